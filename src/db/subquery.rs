//! Hand-written scalar subqueries selected beside a query's columns, so that what would
//! be a statement of its own rides in the row of one that is sent anyway.

/// Implements what diesel needs to select `$ty` as a column of SQL type `$sql_type`, with
/// a static query id (`$static_ty`) so the statement around it stays prepared. The
/// subquery's SQL may name the outer query's tables; the query selecting it must join
/// them, which diesel cannot check.
macro_rules! scalar_subquery {
    ($ty:ty, $static_ty:ty, $sql_type:ty) => {
        impl diesel::expression::Expression for $ty {
            type SqlType = $sql_type;
        }
        impl<QS> diesel::expression::AppearsOnTable<QS> for $ty {}
        impl<QS> diesel::expression::SelectableExpression<QS> for $ty {}
        impl<GB> diesel::expression::ValidGrouping<GB> for $ty {
            type IsAggregate = diesel::expression::is_aggregate::Never;
        }
        impl diesel::query_builder::QueryId for $ty {
            type QueryId = $static_ty;
            const HAS_STATIC_QUERY_ID: bool = true;
        }
    };
}
pub(crate) use scalar_subquery;
