//! `SELECT … FOR NO KEY UPDATE OF <table>`: diesel's locking clauses lock the rows of
//! every table in a join (and PostgreSQL refuses them on the nullable side of an outer
//! join), while a read that joins a row to lock with rows to merely look at needs `OF`.

use diesel::pg::Pg;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::{QueryResult, RunQueryDsl};

/// `query` with `FOR NO KEY UPDATE OF table` appended (PostgreSQL only): the lock an
/// UPDATE that leaves the key alone would take, on `table`'s rows of the result.
#[derive(Debug, Clone, Copy, QueryId)]
pub struct ForNoKeyUpdateOf<Q, T> {
    query: Q,
    table: T,
}

impl<Q, T> ForNoKeyUpdateOf<Q, T> {
    pub fn new(query: Q, table: T) -> Self {
        Self { query, table }
    }
}

impl<Q: Query, T> Query for ForNoKeyUpdateOf<Q, T> {
    type SqlType = Q::SqlType;
}

impl<Q, T, Conn> RunQueryDsl<Conn> for ForNoKeyUpdateOf<Q, T> {}

impl<Q, T> QueryFragment<Pg> for ForNoKeyUpdateOf<Q, T>
where
    Q: QueryFragment<Pg>,
    T: QueryFragment<Pg>,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.query.walk_ast(out.reborrow())?;
        out.push_sql(" FOR NO KEY UPDATE OF ");
        self.table.walk_ast(out.reborrow())
    }
}
