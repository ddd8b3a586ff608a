//! The counter's database work on the HTTP worker (`Db::run_on_worker`): on the calling
//! thread while a pooled connection is idle, handed to a blocking thread when none is,
//! and on SQLite always handed over.

use std::thread::{self, ThreadId};
use std::time::Duration;

use diesel::RunQueryDsl;
use talentcard::db::{DatabaseUrl, Db, DbConnection};
use talentcard::error::ApiError;

use crate::helpers::PgDatabase;

fn thread_of(conn: &mut DbConnection) -> Result<ThreadId, ApiError> {
    diesel::sql_query("SELECT 1").execute(conn)?;
    Ok(thread::current().id())
}

#[actix_web::test]
async fn postgresql_work_runs_on_the_worker_while_a_connection_is_idle() {
    let Some(database) = PgDatabase::create() else {
        return;
    };
    let db = Db::connect(&database.url(), 1, false).expect("pool");
    let worker = thread::current().id();
    assert_eq!(db.run_on_worker(thread_of).await.unwrap(), worker);
    assert_eq!(db.run_writing_on_worker(thread_of).await.unwrap(), worker);

    // The one connection is out (a background job holds it): the work waits for it on a
    // blocking thread, and the worker stays free meanwhile.
    let held = db.get().expect("the one connection");
    let release = thread::spawn(move || {
        thread::sleep(Duration::from_millis(300));
        drop(held);
    });
    let ran_on = db.run_writing_on_worker(thread_of).await.unwrap();
    assert_ne!(ran_on, worker);
    release.join().unwrap();
    assert_eq!(db.run_on_worker(thread_of).await.unwrap(), worker);
}

#[actix_web::test]
async fn sqlite_work_is_always_handed_to_a_blocking_thread() {
    let dir = tempfile::tempdir().unwrap();
    let url = DatabaseUrl::sqlite(&dir.path().join("t.db"));
    let db = Db::connect(&url, 2, true).expect("pool");
    let worker = thread::current().id();
    assert_ne!(db.run_on_worker(thread_of).await.unwrap(), worker);
    assert_ne!(db.run_writing_on_worker(thread_of).await.unwrap(), worker);
}
