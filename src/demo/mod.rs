//! Demo data for `serve --demo`: accounts for every face of the product, so a newcomer
//! can try them at once. Passwords are generated on first seed (never hard-coded) and
//! kept in `DATA_DIR/demo-logins.txt` so they can be printed again on every start.

pub mod merchants;

use std::path::Path;

use diesel::ExpressionMethods;

use crate::auth::password::Password;
use crate::auth::{Actor, Role};
use crate::config::Config;
use crate::db::{DbConnection, write_tx};
use crate::error::{ApiError, ApiResult};
use crate::users::{self, NewAccount, Username};

#[derive(Debug, Clone)]
pub struct DemoLogin {
    pub role: Role,
    pub username: String,
    pub password: String,
    pub note: String,
}

const LOGINS_FILE: &str = "demo-logins.txt";

fn demo_password() -> String {
    // 12 hex characters: easy to type from the terminal, far from guessable.
    hex::encode(crate::secrets::random_bytes::<6>())
}

/// Seeds the demo data once; later starts just return the stored logins.
pub fn seed(conn: &mut DbConnection, config: &Config) -> ApiResult<Vec<DemoLogin>> {
    let path = config.data_dir.join(LOGINS_FILE);
    if users::find_by_username(conn, "admin")?.is_some() {
        return read_logins(&path);
    }
    let actor = Actor::system("demo");
    let mut logins = Vec::new();
    for (role, username, note) in [
        (
            Role::Admin,
            "admin",
            "official: approvals, cards, verifies settlements",
        ),
        (
            Role::Admin,
            "admin2",
            "second official: approves what admin proposes (a budget raise waits) and what admin verified (four eyes)",
        ),
        (
            Role::Auditor,
            "auditor",
            "audit bureau: read-only, reports, chain verify",
        ),
    ] {
        let password = demo_password();
        let hash = users::hash_password(&Password::parse(&password)?)?;
        let username_parsed = Username::parse(username)?;
        write_tx(conn, |conn| {
            users::create(
                conn,
                &actor,
                NewAccount {
                    username: &username_parsed,
                    password_hash: hash,
                    role,
                    display_name: "",
                    merchant_id: None,
                    talent_id: None,
                    active: true,
                },
            )
        })?;
        logins.push(DemoLogin {
            role,
            username: username.into(),
            password,
            note: note.into(),
        });
    }
    // The app created the key file before seeding; talents need its PII keys.
    let secrets =
        crate::secrets::Secrets::load(&config.secret_key_file).map_err(ApiError::internal)?;
    let vault = crate::talents::PiiVault::new(&secrets);
    logins.extend(crate::talents::seed_demo(
        conn,
        &vault,
        config.card_validity_years,
    )?);
    seed_family(conn, &vault)?;
    for (role, username, password, note) in
        merchants::seed(conn, &config.districts, &mut demo_password)?
    {
        logins.push(DemoLogin {
            role,
            username,
            password,
            note,
        });
    }
    seed_budget(conn, &actor)?;
    seed_waiting_proposal(conn)?;
    write_logins(&path, &logins)?;
    Ok(logins)
}

/// A family card on the first demo talent's card: a parent without a phone, who pays
/// with the printed card and a PIN.
fn seed_family(conn: &mut DbConnection, vault: &crate::talents::PiiVault) -> ApiResult<()> {
    use crate::talents::{Field, IdNumber, TalentName};
    let now = crate::time::now();
    let today = crate::time::to_local(now).date_naive();
    let index = vault.blind_index(Field::Phone, "13800000001");
    let talent = crate::talents::find_by_index(conn, Field::Phone, &index)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the demo talent is missing")))?;
    let card = crate::cards::current_for_talent(conn, talent.id)?
        .ok_or_else(|| ApiError::internal(anyhow::anyhow!("the demo card is missing")))?;
    let mut id = b"51090219580101002".to_vec();
    id.push(crate::talents::domain::id_check_char(&id));
    let id = String::from_utf8(id).map_err(ApiError::internal)?;
    let parent = crate::family::NewDependent {
        name: TalentName::parse("李建国")?,
        id_number: IdNumber::parse(&id, today)?,
        relation: crate::family::Relation::Parent,
        phone: None,
    };
    write_tx(conn, |conn| {
        crate::family::add(
            conn,
            &Actor::system("demo"),
            vault,
            &crate::cards::CardNo::parse(&card.card_no)?,
            &parent,
            now,
        )
        .map(|_| ())
    })
}

/// This year's subsidy budget with envelopes for 衣食住行, so demo redemptions are
/// subsidised (without a budget every subsidised redemption is refused).
fn seed_budget(conn: &mut DbConnection, actor: &Actor) -> ApiResult<()> {
    use diesel::RunQueryDsl;

    use crate::schema::{budget_envelopes, budgets};
    let now = crate::time::now();
    let year = chrono::Datelike::year(&crate::time::to_local(now));
    write_tx(conn, |conn| {
        diesel::insert_into(budgets::table)
            .values((
                budgets::year.eq(year),
                budgets::total_fen.eq(500_000_000),
                budgets::merchant_monthly_cap_fen.eq(Some(2_000_000)),
                budgets::updated_at.eq(now),
            ))
            .execute(conn)?;
        for (category, fen) in [
            ("clothing", 80_000_000),
            ("food", 120_000_000),
            ("housing", 100_000_000),
            ("transport", 80_000_000),
        ] {
            diesel::insert_into(budget_envelopes::table)
                .values((
                    budget_envelopes::year.eq(year),
                    budget_envelopes::category.eq(category),
                    budget_envelopes::total_fen.eq(fen),
                ))
                .execute(conn)?;
        }
        let view = crate::budgets::view(conn, year)?;
        crate::audit::record(
            conn,
            actor,
            "budget.set",
            "budget",
            year,
            None::<&()>,
            view.as_ref(),
        )
    })
}

/// A raise of the food envelope proposed by `admin`, so the demo's second official has
/// something waiting for them (DESIGN §13).
fn seed_waiting_proposal(conn: &mut DbConnection) -> ApiResult<()> {
    let admin = users::find_by_username(conn, "admin")?
        .ok_or_else(|| ApiError::not_found("demo admin missing"))?;
    let principal = crate::auth::Principal {
        user_id: admin.id,
        username: admin.username.clone(),
        role: Role::Admin,
        merchant_id: None,
        talent_id: None,
        // Acting in-process, not through a signed-in device.
        session_id: 0,
    };
    let year = chrono::Datelike::year(&crate::time::to_local(crate::time::now()));
    let settings = crate::budgets::setting::BudgetSettings {
        total_fen: 600_000_000,
        categories: Some(
            [
                ("clothing", 80_000_000),
                ("food", 150_000_000),
                ("housing", 100_000_000),
                ("transport", 80_000_000),
            ]
            .into_iter()
            .map(|(c, fen)| (c.to_owned(), fen))
            .collect(),
        ),
        merchant_monthly_cap_fen: Some(2_000_000),
    };
    write_tx(conn, |conn| {
        crate::proposals::budget::propose(conn, &principal, year, settings)
    })?;
    Ok(())
}

fn write_logins(path: &Path, logins: &[DemoLogin]) -> ApiResult<()> {
    let text: String = logins
        .iter()
        .map(|l| format!("{}\t{}\t{}\t{}\n", l.role, l.username, l.password, l.note))
        .collect();
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(ApiError::internal)?;
    }
    std::fs::write(path, text).map_err(ApiError::internal)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
            .map_err(ApiError::internal)?;
    }
    Ok(())
}

fn read_logins(path: &Path) -> ApiResult<Vec<DemoLogin>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    Ok(text
        .lines()
        .filter_map(|line| {
            let mut parts = line.splitn(4, '\t');
            Some(DemoLogin {
                role: parts.next()?.parse().ok()?,
                username: parts.next()?.to_owned(),
                password: parts.next()?.to_owned(),
                note: parts.next().unwrap_or_default().to_owned(),
            })
        })
        .collect())
}

pub fn print_logins(logins: &[DemoLogin], port: u16) {
    println!();
    println!("  遂州英才卡 demo — open http://127.0.0.1:{port}/");
    if logins.is_empty() {
        println!("  (demo logins file missing: this database was seeded elsewhere)");
    }
    for l in logins {
        println!(
            "  {:<8} {:<14} {:<14} {}",
            l.role, l.username, l.password, l.note
        );
    }
    println!();
}
