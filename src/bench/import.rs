//! `talentcard bench import`: a generated bureau list of N talents checked and imported
//! through the same plan and job as `POST /talents/import` (DESIGN §7: 10 000 rows in
//! < 10 s), while a probe writes a small transaction every 5 ms and records how long it
//! waited — what a counter would wait on the import.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use diesel::prelude::*;

use crate::auth::Actor;
use crate::db::{DatabaseUrl, Db};
use crate::onboarding::{job, plan};

/// A CSV of `rows` valid, distinct talents over every tier.
pub fn bureau_list(rows: u32) -> Vec<u8> {
    let mut out = String::from("姓名,身份证号,手机号,工作单位,人才层次\n");
    for i in 0..rows {
        let body = format!(
            "5109021985{:02}{:02}{:03}",
            1 + i % 12,
            1 + (i / 12) % 28,
            i % 1000
        );
        let check = crate::talents::domain::id_check_char(body.as_bytes());
        // Distinct per row: the sequence goes into the birth date and the sequence digits.
        out.push_str(&format!(
            "人才{i},{body}{},{},遂州大学,{}\n",
            char::from(check),
            13_000_000_000u64 + u64::from(i) * 7 + 100_000_000,
            ["A", "B", "C", "D", "E"][i as usize % 5],
        ));
    }
    out.into_bytes()
}

pub fn run(url: &DatabaseUrl, rows: u32) -> anyhow::Result<()> {
    anyhow::ensure!(rows <= 12 * 28 * 1000, "at most 336 000 rows");
    let db = Db::connect(url, 8, true)?;
    let mut conn = crate::db::establish(url)?;
    super::ensure_scratch(&mut conn)?;
    let now = crate::time::now();
    diesel::insert_into(crate::schema::users::table)
        .values((
            crate::schema::users::username.eq("bench-admin"),
            crate::schema::users::password_hash.eq(crate::users::UNUSABLE_PASSWORD_HASH),
            crate::schema::users::role.eq("admin"),
            crate::schema::users::display_name.eq("bench"),
            crate::schema::users::active.eq(true),
            crate::schema::users::created_at.eq(now),
            crate::schema::users::updated_at.eq(now),
        ))
        .execute(&mut conn)?;
    let admin: i64 = crate::schema::users::table
        .select(crate::schema::users::id)
        .first(&mut conn)?;
    drop(conn);
    let dir = super::tempfile_dir()?;
    let secrets = crate::secrets::Secrets::load_or_create(&dir.join("secrets.json"))?;
    let vault = Arc::new(crate::talents::PiiVault::new(&secrets));
    let actor = Actor {
        user_id: Some(admin),
        name: "bench-admin".into(),
    };
    let file = bureau_list(rows);
    println!("a CSV of {rows} talents, {} KiB", file.len() / 1024);
    actix_web::rt::System::new().block_on(async move {
        let started = Instant::now();
        let checking = vault.clone();
        let options = plan::Options::default();
        let plan = db
            .run(move |conn| plan::check(conn, &checking, &file, options, now))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "checked in {:.2?}: {} rows, {} new, {} errors",
            started.elapsed(),
            plan.report.rows,
            plan.report.new,
            plan.report.errors.len()
        );
        let creator = actor.clone();
        let sealing = vault.clone();
        let job_id = db
            .write(move |conn| job::create(conn, &sealing, &creator, &plan, options, "bench", now))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let waits = Arc::new(Mutex::new(Vec::<Duration>::new()));
        let probing = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let probe = {
            let (db, waits, probing) = (db.clone(), waits.clone(), probing.clone());
            actix_web::rt::spawn(async move {
                while probing.load(std::sync::atomic::Ordering::Relaxed) {
                    let asked = Instant::now();
                    let _ = db
                        .write(|conn| {
                            diesel::sql_query(
                                "UPDATE import_jobs SET heartbeat_at = heartbeat_at WHERE id = 'probe'",
                            )
                            .execute(conn)?;
                            Ok(())
                        })
                        .await;
                    waits.lock().expect("not poisoned").push(asked.elapsed());
                    actix_web::rt::time::sleep(Duration::from_millis(5)).await;
                }
            })
        };
        let written = Instant::now();
        job::run(
            job::Runner {
                db: db.clone(),
                vault,
                activation_key: secrets.activation_key(),
                card_validity_years: 3,
            },
            actor,
            job_id.clone(),
        )
        .await;
        let took = written.elapsed();
        probing.store(false, std::sync::atomic::Ordering::Relaxed);
        let _ = probe.await;
        let id = job_id.clone();
        let done = db
            .run(move |conn| job::find(conn, &id))
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        println!(
            "imported: {} created in {took:.2?} ({:.0} rows/s), status {}{}; check + import {:.2?}",
            done.created,
            done.created as f64 / took.as_secs_f64(),
            done.status,
            done.failure.map(|f| format!(" ({f})")).unwrap_or_default(),
            started.elapsed()
        );
        let mut waits = waits.lock().expect("not poisoned").clone();
        waits.sort();
        if !waits.is_empty() {
            let at = |q: f64| waits[((waits.len() - 1) as f64 * q) as usize];
            println!(
                "a small write during the import ({} probes): p50 {:.1?}, p99 {:.1?}, max {:.1?}",
                waits.len(),
                at(0.5),
                at(0.99),
                waits[waits.len() - 1]
            );
        }
        anyhow::Ok(())
    })
}
