//! Search, the redemption trace, the to-do counts and names in lists (issue 17, part 6;
//! DESIGN §5 "Daily use").

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{TestApp, assert_invalid, assert_problem, merchant_application, offer_body};
use crate::redemptions::{counter, mint, now, redeem};
use crate::talents::{create_talent, id_number, phone, role_tokens, talent_with_card};

fn search_path(kind: &str, q: &str) -> String {
    format!("/api/v1/search?kind={kind}&q={}", urlencoding(q))
}

/// Percent-encodes a query value (UTF-8 bytes).
fn urlencoding(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

async fn search(app: &TestApp, token: &str, kind: &str, q: &str) -> Value {
    let (status, body) = app.get(&search_path(kind, q), token).await;
    assert_eq!(status, StatusCode::OK, "searching {kind} {q:?}: {body}");
    body
}

/// The `talent.lookup` audit entries, oldest first: (entity id, after payload).
async fn lookups(app: &TestApp) -> Vec<(String, Value)> {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        use talentcard::schema::audit_events::dsl as a;
        a::audit_events
            .filter(a::action.eq("talent.lookup"))
            .order(a::id)
            .select((a::entity_id, a::after_json))
            .load::<(String, Option<String>)>(conn)
            .expect("audit query")
            .into_iter()
            .map(|(id, after)| (id, serde_json::from_str(&after.unwrap()).unwrap()))
            .collect()
    })
    .await
}

async fn officials_find_talents_by_name_and_by_whole_numbers_audited(app: TestApp) {
    let admin = app.admin_token().await;
    for seq in 1..=3 {
        create_talent(&app, &admin, seq, "C").await;
    }
    let auditor = app.official_token(Role::Auditor, "auditor1").await;

    // Part of a name, paged by the list contract; names are not personal numbers: not audited.
    let all = search(&app, &auditor, "talent", "测试").await;
    assert_eq!(all["total"], 3, "{all}");
    assert_eq!(all["matched_by"], "name");
    assert_eq!(all["kind"], "talent");
    let (status, page2) = app
        .get(
            &format!("{}&per_page=2&page=2", search_path("talent", "测试")),
            &admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{page2}");
    assert_eq!(
        (page2["page"].as_i64(), page2["per_page"].as_i64()),
        (Some(2), Some(2))
    );
    assert_eq!(page2["items"].as_array().unwrap().len(), 1, "{page2}");
    assert_eq!(page2["items"][0]["kind"], "talent");
    assert_eq!(page2["items"][0]["talent"]["name"], "测试3");
    assert!(
        lookups(&app).await.is_empty(),
        "a name search is not audited"
    );

    // A whole phone, typed with spaces: exact, through the blind index, audited masked.
    let p = phone(2);
    let spaced = format!("{} {} {}", &p[..3], &p[3..7], &p[7..]);
    let found = search(&app, &admin, "talent", &spaced).await;
    assert_eq!(found["matched_by"], "phone", "{found}");
    assert_eq!(found["total"], 1);
    let hit = &found["items"][0];
    assert_eq!(hit["talent"]["name"], "测试2");
    assert_eq!(hit["talent"]["phone_masked"], "139****0002");
    let id2 = hit["id"].as_i64().unwrap();
    assert!(
        !found.to_string().contains(&p),
        "no unmasked phone: {found}"
    );

    // A whole ID number, lower-case x or not.
    let found = search(&app, &auditor, "talent", &id_number(3).to_lowercase()).await;
    assert_eq!(found["matched_by"], "id_number", "{found}");
    assert_eq!(found["items"][0]["talent"]["name"], "测试3");
    assert!(
        found["items"][0]["talent"]["id_number_masked"]
            .as_str()
            .unwrap()
            .contains('*')
    );

    // A number nobody has: found nothing, audited all the same.
    let none = search(&app, &admin, "talent", "13912345678").await;
    assert_eq!(
        (none["total"].as_i64(), none["matched_by"].as_str()),
        (Some(0), Some("phone"))
    );

    // Part of a number cannot be searched (stored encrypted): nothing, not audited.
    let part = search(&app, &admin, "talent", "0002").await;
    assert_eq!(
        (part["total"].as_i64(), part["matched_by"].as_str()),
        (Some(0), Some("none"))
    );

    let audited = lookups(&app).await;
    assert_eq!(audited.len(), 3, "{audited:?}");
    assert_eq!(audited[0].0, id2.to_string());
    assert_eq!(audited[0].1["by"], "phone");
    assert_eq!(audited[0].1["phone_masked"], "139****0002");
    assert_eq!(audited[0].1["via"], "search");
    assert_eq!(audited[1].1["by"], "id_number");
    assert_eq!(audited[2].0, "none");
    assert_eq!(audited[2].1["found"], false);
    for (_, after) in &audited {
        let text = after.to_string();
        assert!(
            !text.contains(&p)
                && !text.contains("13912345678")
                && !text.contains(&id_number(3)[..14]),
            "{text}"
        );
    }
    // The actor is named: who searched.
    let actors: Vec<String> = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            use talentcard::schema::audit_events::dsl as a;
            a::audit_events
                .filter(a::action.eq("talent.lookup"))
                .order(a::id)
                .select(a::actor)
                .load(conn)
                .unwrap()
        })
        .await;
    assert_eq!(actors, vec!["admin", "auditor1", "admin"]);

    // The existing exact look-up is the same function, so it is audited too.
    let (status, body) = app
        .post("/api/v1/talents/lookup", &admin, json!({"phone": phone(1)}))
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let audited = lookups(&app).await;
    assert_eq!(audited.len(), 4);
    assert_eq!(audited[3].1["via"], "lookup");
}

async fn cards_are_found_by_number_with_or_without_spaces(app: TestApp) {
    let admin = app.admin_token().await;
    let (talent_id, card_no, _) = talent_with_card(&app, 7, "B").await;
    let grouped = format!("{} {} {}", &card_no[..4], &card_no[4..8], &card_no[8..]);
    let dashed = format!("{}-{}-{}", &card_no[..4], &card_no[4..8], &card_no[8..]);
    for q in [card_no.clone(), grouped, dashed] {
        let found = search(&app, &admin, "card", &q).await;
        assert_eq!(found["matched_by"], "card_no", "{found}");
        assert_eq!(found["total"], 1);
        let card = &found["items"][0]["card"];
        assert_eq!(card["card_no"], card_no.as_str());
        assert_eq!(card["holder_id"], talent_id);
        assert_eq!(card["holder_name"], "测试7");
        assert_eq!(card["status"], "active");
    }
    let part = search(&app, &admin, "card", &card_no[8..]).await;
    assert_eq!(part["matched_by"], "card_no_part");
    assert!(
        part["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|i| i["card"]["card_no"] == card_no.as_str()),
        "{part}"
    );
    // A typo in a whole number is said to be one, naming q.
    let mut typo = card_no.clone().into_bytes();
    typo[11] = b'0' + (typo[11] - b'0' + 1) % 10;
    let typo = String::from_utf8(typo).unwrap();
    assert_invalid(&app.get(&search_path("card", &typo), &admin).await, "q");
    // Words match no card.
    let words = search(&app, &admin, "card", "测试").await;
    assert_eq!(
        (words["total"].as_i64(), words["matched_by"].as_str()),
        (Some(0), Some("none"))
    );
}

async fn merchants_are_found_by_part_of_the_name_in_either_case_or_by_uscc(app: TestApp) {
    let admin = app.admin_token().await;
    let mut alpha = merchant_application("alpha");
    alpha["name"] = json!("Alpha 商行");
    let alpha = app.apply_merchant(alpha).await;
    let (status, body) = app
        .post(
            &format!("/api/v1/merchants/{alpha}/approve"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut pending = merchant_application("beta");
    pending["name"] = json!("Beta 50%_小吃");
    let uscc = pending["uscc"].as_str().unwrap().to_owned();
    let pending_id = app.apply_merchant(pending).await;

    for q in ["alpha", "ALPHA", "lph", "Alpha 商"] {
        let found = search(&app, &admin, "merchant", q).await;
        assert_eq!(found["matched_by"], "name", "{q}: {found}");
        assert_eq!(found["total"], 1, "{q}: {found}");
        assert_eq!(found["items"][0]["merchant"]["name"], "Alpha 商行");
        assert_eq!(found["items"][0]["merchant"]["status"], "active");
    }
    // Wildcards are text: "50%_" finds only the name that has them.
    let found = search(&app, &admin, "merchant", "50%_").await;
    assert_eq!(found["total"], 1, "{found}");
    assert_eq!(found["items"][0]["id"], pending_id);
    let found = search(&app, &admin, "merchant", "%").await;
    assert_eq!(found["total"], 1, "{found}");
    // Pending merchants are found too, by their whole USCC in either case.
    let found = search(&app, &admin, "merchant", &uscc.to_lowercase()).await;
    assert_eq!(found["matched_by"], "uscc", "{found}");
    assert_eq!(found["items"][0]["merchant"]["status"], "pending");
    assert_eq!(found["items"][0]["merchant"]["uscc"], uscc.as_str());
    let found = search(&app, &admin, "merchant", "nobody").await;
    assert_eq!(found["total"], 0);
    assert!(found["items"].as_array().unwrap().is_empty());
}

async fn only_officials_search_trace_and_read_their_to_do(app: TestApp) {
    let tokens = role_tokens(&app).await;
    for (who, token) in &tokens {
        for path in [search_path("merchant", "x"), "/api/v1/me/todo".to_owned()] {
            let response = app
                .request(Method::GET, &path, token.as_deref(), None)
                .await;
            match *who {
                "admin" | "auditor" => {
                    assert_eq!(response.0, StatusCode::OK, "{who} {path}: {}", response.1)
                }
                "anonymous" => assert_problem(&response, StatusCode::UNAUTHORIZED, "unauthorized"),
                _ => assert_problem(&response, StatusCode::FORBIDDEN, "forbidden"),
            }
        }
    }
    // No login beats a bad query: 401 first.
    assert_problem(
        &app.request(Method::GET, "/api/v1/search?q=", None, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
}

async fn a_bad_query_is_refused_naming_the_parameter(app: TestApp) {
    let admin = app.admin_token().await;
    let get = |path: String| {
        let app = &app;
        let admin = admin.clone();
        async move { app.get(&path, &admin).await }
    };
    assert_invalid(&get("/api/v1/search?kind=talent&q=".into()).await, "q");
    assert_invalid(
        &get("/api/v1/search?kind=talent&q=%20%20".into()).await,
        "q",
    );
    assert_invalid(&get("/api/v1/search?kind=talent".into()).await, "q");
    assert_invalid(&get(search_path("talent", &"字".repeat(65))).await, "q");
    assert_invalid(&get("/api/v1/search?kind=talent&q=a%01b".into()).await, "q");
    assert_invalid(
        &get("/api/v1/search?kind=talent&q=a%E2%80%AEb".into()).await,
        "q",
    );
    assert_invalid(&get("/api/v1/search?q=abc".into()).await, "kind");
    assert_invalid(
        &get("/api/v1/search?q=abc&kind=people".into()).await,
        "kind",
    );
    assert_invalid(
        &get(format!("{}&per_page=500", search_path("talent", "abc"))).await,
        "per_page",
    );
    // 64 characters are fine.
    let (status, body) = get(search_path("merchant", &"字".repeat(64))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // A mistyped ID number is named as such.
    let mut wrong = id_number(1);
    let last = if wrong.ends_with('0') { "1" } else { "0" };
    wrong.replace_range(17.., last);
    assert_invalid(&get(search_path("talent", &wrong)).await, "q");
}

async fn step(app: &TestApp, token: &str, id: i64, action: &str, body: Value) -> Value {
    let (status, s) = app
        .post(&format!("/api/v1/settlements/{id}/{action}"), token, body)
        .await;
    assert_eq!(status, StatusCode::OK, "{action} {id}: {s}");
    s
}

/// Generates the current month and takes its one new settlement to paid.
pub async fn settle_and_pay(
    app: &TestApp,
    owner: &str,
    admin: &str,
    admin2: &str,
    reference: &str,
) -> i64 {
    let period = talentcard::time::to_local(now())
        .format("%Y-%m")
        .to_string();
    let (status, body) = app
        .post(
            "/api/v1/settlements/generate",
            admin,
            json!({"period": period}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let created = body["created"].as_array().unwrap();
    assert_eq!(created.len(), 1, "{body}");
    let id = created[0]["id"].as_i64().unwrap();
    step(
        app,
        owner,
        id,
        "confirm",
        json!({"invoice_no": format!("FP-{reference}")}),
    )
    .await;
    step(app, admin, id, "verify", json!({})).await;
    step(app, admin2, id, "approve", json!({})).await;
    step(app, admin, id, "pay", json!({"bank_reference": reference})).await;
    id
}

async fn a_redemption_reversed_after_payout_is_traced_to_both_payouts_with_names(app: TestApp) {
    let c = counter(&app, "trace", 11, offer_body("九折")).await;
    let admin2 = app.official_token(Role::Admin, "admin2").await;
    let code = mint(&app, c.card_id, now(), 0);
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "trace-1",
        json!({"code": code, "bill_fen": 20_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let rid = r["id"].as_i64().unwrap();
    let first = settle_and_pay(&app, &c.merchant.owner_token, &c.admin, &admin2, "SZB-0001").await;
    let (status, reversed) = app
        .post(
            &format!("/api/v1/redemptions/{rid}/reverse"),
            &c.admin,
            json!({"reason": "顾客退货"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{reversed}");
    let second = settle_and_pay(&app, &c.merchant.owner_token, &c.admin, &admin2, "SZB-0002").await;
    app.seal_audit().await;

    let (status, t) = app
        .get(&format!("/api/v1/redemptions/{rid}/trace"), &c.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{t}");
    // The counter, with names.
    let red = &t["redemption"];
    assert_eq!(red["merchant"]["name"], "trace 商行");
    assert_eq!(red["offer"]["name"], "九折");
    assert_eq!(
        red["card_no"],
        c.card_no.as_str(),
        "officials see the whole number"
    );
    assert_eq!(red["talent"]["masked_name"], "测***");
    assert_eq!(red["cashier_name"], "trace-cashier");
    assert_eq!(red["status"], "reversed");
    assert_eq!(t["reversal"]["reason"], "顾客退货");
    assert_eq!(t["reversal"]["by"]["name"], "admin");
    assert_eq!(t["reversal"]["subsidy_fen"], 1000);
    // Line → settlement → payout, twice: the sale, then the reversal's negative line.
    let lines = t["lines"].as_array().unwrap();
    assert_eq!(lines.len(), 2, "{t}");
    let (sale, back) = (&lines[0], &lines[1]);
    assert_eq!(sale["kind"], "redemption");
    assert_eq!(sale["subsidy_fen"], 1000);
    assert_eq!(sale["active"], true);
    let s = &sale["settlement"];
    assert_eq!(s["id"], first);
    assert_eq!(s["status"], "paid");
    assert_eq!(
        s["confirmed"]["by"]["name"], "张三",
        "the owner, by display name"
    );
    assert_eq!(s["verified"]["by"]["name"], "admin");
    assert_eq!(s["approved"]["by"]["name"], "admin2");
    assert!(s["audit_checkpoint_size"].as_i64().unwrap() > 0);
    assert_eq!(s["invoice_no"], "FP-SZB-0001");
    assert_eq!(s["payout"]["bank_reference"], "SZB-0001");
    assert_eq!(s["payout"]["paid_by"]["name"], "admin");
    assert_eq!(s["payout"]["amount_fen"], 1000);
    assert!(s["payout"]["paid_at"].as_str().unwrap().ends_with("+08:00"));
    assert_eq!(back["kind"], "reversal");
    assert_eq!(back["subsidy_fen"], -1000);
    assert_eq!(back["settlement"]["id"], second);
    assert_eq!(back["settlement"]["run"], 2);
    assert_eq!(back["settlement"]["payout"]["bank_reference"], "SZB-0002");
    assert_eq!(back["settlement"]["payout"]["amount_fen"], -1000);
    // The audit entries of all of it, in chain order, actors by name.
    // (A run between 00:00 and 05:00 Shanghai time raises an `off_hours` flag on
    // generation, whose entries belong to the trace too; they are not the point here.)
    let audit: Vec<&Value> = t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| !e["action"].as_str().unwrap().starts_with("anomaly."))
        .collect();
    let actions: Vec<&str> = audit
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions,
        [
            "redemption.create",
            "settlement.generate",
            "settlement.confirm",
            "settlement.verify",
            "settlement.approve",
            "settlement.pay",
            "redemption.reverse",
            "settlement.generate",
            "settlement.confirm",
            "settlement.verify",
            "settlement.approve",
            "settlement.pay",
        ],
        "{t}"
    );
    let names: Vec<&str> = audit
        .iter()
        .map(|e| e["actor_name"].as_str().unwrap())
        .collect();
    assert_eq!(names[0], "trace-cashier");
    assert_eq!(names[2], "张三");
    assert_eq!(names[3], "admin");
    assert_eq!(names[4], "admin2");
    let seqs: Vec<i64> = audit
        .iter()
        .map(|e| e["seq"].as_i64().expect("sealed"))
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
    assert!(t["dispute"].is_null());

    // The merchant's owner traces its own sale: no audit internals, officials unnamed,
    // the card number masked.
    let (status, own) = app
        .get(
            &format!("/api/v1/redemptions/{rid}/trace"),
            &c.merchant.owner_token,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{own}");
    assert!(own["audit"].is_null(), "{own}");
    assert_ne!(own["redemption"]["card_no"], c.card_no.as_str());
    let s = &own["lines"][0]["settlement"];
    assert_eq!(s["confirmed"]["by"]["name"], "张三");
    assert!(
        s["verified"]["by"].is_null() && s["verified"]["at"].is_string(),
        "{s}"
    );
    assert_eq!(s["payout"]["bank_reference"], "SZB-0001");
    // Nobody else's.
    let other = app.active_merchant("other").await;
    assert_problem(
        &app.get(
            &format!("/api/v1/redemptions/{rid}/trace"),
            &other.owner_token,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.get(&format!("/api/v1/redemptions/{rid}/trace"), &c.talent_token)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    assert_problem(
        &app.request(
            Method::GET,
            &format!("/api/v1/redemptions/{rid}/trace"),
            None,
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "unauthorized",
    );
    assert_problem(
        &app.get("/api/v1/redemptions/999999/trace", &c.admin).await,
        StatusCode::NOT_FOUND,
        "not_found",
    );

    // The ledger names the cashier; the audit list names actors and what they touched.
    let (status, ledger) = app
        .get(
            &format!("/api/v1/redemptions?card_no={}", c.card_no),
            &c.admin,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{ledger}");
    assert_eq!(ledger["items"][0]["cashier_name"], "trace-cashier");
    let (status, events) = app
        .get("/api/v1/audit/events?action=settlement.verify", &c.admin)
        .await;
    assert_eq!(status, StatusCode::OK, "{events}");
    let verify = &events["items"][0];
    assert_eq!(verify["actor_name"], "admin");
    assert_eq!(
        verify["entity_label"],
        format!(
            "trace 商行 · {}",
            talentcard::time::to_local(now()).format("%Y-%m")
        )
    );
    let (_, events) = app
        .get("/api/v1/audit/events?action=card.issue", &c.admin)
        .await;
    assert_eq!(
        events["items"][0]["entity_label"],
        format!("{} · 测试11", c.card_no)
    );
}

async fn lists_name_card_holders_merchants_and_disputed_sales(app: TestApp) {
    let c = counter(&app, "names", 12, offer_body("九折")).await;
    // Cards name their holder.
    let (status, cards) = app.get("/api/v1/cards", &c.admin).await;
    assert_eq!(status, StatusCode::OK, "{cards}");
    assert_eq!(cards["items"][0]["holder_name"], "测试12");
    assert_eq!(cards["items"][0]["card_no"], c.card_no.as_str());
    // The offers' approval queue names the merchant.
    let (status, pending) = app
        .post(
            &format!("/api/v1/merchants/{}/offers", c.merchant.id),
            &c.merchant.owner_token,
            offer_body("八折"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{pending}");
    let (_, queue) = app.get("/api/v1/offers?status=pending", &c.admin).await;
    assert_eq!(queue["items"][0]["merchant_name"], "names 商行", "{queue}");
    assert_eq!(queue["items"][0]["title"], "八折");
    // Disputes carry their sale: merchant, offer, amounts, holder masked.
    let code = mint(&app, c.card_id, now(), 0);
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "names-1",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let (status, d) = app
        .post(
            &format!("/api/v1/redemptions/{}/dispute", r["id"]),
            &c.talent_token,
            json!({"reason": "不是我"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    let (status, list) = app.get("/api/v1/disputes", &c.admin).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let item = &list["items"][0];
    assert_eq!(item["reason"], "不是我");
    assert_eq!(item["redemption"]["merchant"]["name"], "names 商行");
    assert_eq!(item["redemption"]["offer"]["name"], "九折");
    assert_eq!(item["redemption"]["bill_fen"], 10_000);
    assert_eq!(item["redemption"]["talent"]["masked_name"], "测***");
    assert_eq!(item["redemption"]["cashier_name"], "names-cashier");
    // The talent's own list has the sale too, without the shop's staff names.
    let (_, own) = app.get("/api/v1/disputes", &c.talent_token).await;
    assert_eq!(
        own["items"][0]["redemption"]["merchant"]["name"],
        "names 商行"
    );
    assert!(
        own["items"][0]["redemption"].get("cashier_name").is_none(),
        "{own}"
    );
    // The trace shows the dispute.
    let (_, t) = app
        .get(&format!("/api/v1/redemptions/{}/trace", r["id"]), &c.admin)
        .await;
    assert_eq!(t["dispute"]["status"], "open", "{t}");
    assert_eq!(t["dispute"]["reason"], "不是我");
    assert!(t["lines"].as_array().unwrap().is_empty());
    let actions: Vec<&str> = t["audit"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["redemption.create", "dispute.open"]);
}

async fn todo(app: &TestApp, token: &str) -> Value {
    let (status, body) = app.get("/api/v1/me/todo", token).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn the_to_do_counts_follow_what_waits_for_each_official(app: TestApp) {
    let c = counter(&app, "todo", 13, offer_body("九折")).await;
    let admin = c.admin.clone();
    let admin2 = app.second_admin_token().await;
    let auditor = app.official_token(Role::Auditor, "auditor1").await;
    let zero = json!({
        "proposals": 0, "merchants": 0, "offers": 0,
        "settlements": {"verify": 0, "approve": 0, "pay": 0},
        "disputes": 0, "anomalies": 0, "anomalies_held": 0
    });
    assert_eq!(todo(&app, &admin).await, zero);

    // An application and a subsidised offer wait for approval.
    app.apply_merchant(merchant_application("waiting")).await;
    let (status, _) = app
        .post(
            &format!("/api/v1/merchants/{}/offers", c.merchant.id),
            &c.merchant.owner_token,
            offer_body("八折"),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let t = todo(&app, &admin).await;
    assert_eq!(
        (t["merchants"].as_i64(), t["offers"].as_i64()),
        (Some(1), Some(1)),
        "{t}"
    );
    assert_eq!(
        todo(&app, &auditor).await["merchants"],
        0,
        "auditors decide nothing"
    );

    // A budget proposal waits for the other administrator, not its proposer.
    let year: i32 = talentcard::time::to_local(now())
        .format("%Y")
        .to_string()
        .parse()
        .unwrap();
    let (status, proposed) = app
        .request(
            Method::PUT,
            &format!("/api/v1/budgets/{year}"),
            Some(&admin),
            Some(json!({"total_fen": 20_000_000})),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{proposed}");
    assert_eq!(todo(&app, &admin).await["proposals"], 0);
    assert_eq!(todo(&app, &admin2).await["proposals"], 1);

    // A settlement: confirmed → anyone verifies; verified → only the other approves;
    // approved → to pay.
    let code = mint(&app, c.card_id, now(), 0);
    let (status, r) = redeem(
        &app,
        &c.merchant.cashier_token,
        "todo-1",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{r}");
    let period = talentcard::time::to_local(now())
        .format("%Y-%m")
        .to_string();
    let (_, generated) = app
        .post(
            "/api/v1/settlements/generate",
            &admin,
            json!({"period": period}),
        )
        .await;
    let id = generated["created"][0]["id"].as_i64().unwrap();
    assert_eq!(
        todo(&app, &admin).await["settlements"],
        json!({"verify": 0, "approve": 0, "pay": 0})
    );
    step(&app, &c.merchant.owner_token, id, "confirm", json!({})).await;
    assert_eq!(todo(&app, &admin).await["settlements"]["verify"], 1);
    assert_eq!(todo(&app, &auditor).await["settlements"]["verify"], 0);
    step(&app, &admin, id, "verify", json!({})).await;
    let mine = todo(&app, &admin).await;
    assert_eq!(
        mine["settlements"],
        json!({"verify": 0, "approve": 0, "pay": 0}),
        "the verifier may not approve"
    );
    assert_eq!(todo(&app, &admin2).await["settlements"]["approve"], 1);
    step(&app, &admin2, id, "approve", json!({})).await;
    assert_eq!(
        todo(&app, &admin).await["settlements"],
        json!({"verify": 0, "approve": 0, "pay": 1})
    );

    // A dispute is open for every official, auditors included.
    let code = mint(&app, c.card_id, now(), 1);
    let (_, r2) = redeem(
        &app,
        &c.merchant.cashier_token,
        "todo-2",
        json!({"code": code, "bill_fen": 10_000, "offer_id": c.offer_id}),
    )
    .await;
    let (status, d) = app
        .post(
            &format!("/api/v1/redemptions/{}/dispute", r2["id"]),
            &c.talent_token,
            json!({"reason": "不是我"}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{d}");
    assert_eq!(todo(&app, &auditor).await["disputes"], 1);
    let (status, _) = app
        .post(
            &format!("/api/v1/disputes/{}/resolve", d["id"]),
            &admin,
            json!({"outcome": "dismissed", "note": "已核实"}),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let t = todo(&app, &admin).await;
    assert_eq!(t["disputes"], 0, "{t}");

    // Approving and paying clear their counts.
    app.approve_proposal(&proposed).await;
    step(&app, &admin, id, "pay", json!({"bank_reference": "SZB-9"})).await;
    let t = todo(&app, &admin2).await;
    assert_eq!(t["proposals"], 0, "{t}");
    assert_eq!(t["settlements"]["pay"], 0, "{t}");
}

both_backends!(
    officials_find_talents_by_name_and_by_whole_numbers_audited,
    cards_are_found_by_number_with_or_without_spaces,
    merchants_are_found_by_part_of_the_name_in_either_case_or_by_uscc,
    only_officials_search_trace_and_read_their_to_do,
    a_bad_query_is_refused_naming_the_parameter,
    a_redemption_reversed_after_payout_is_traced_to_both_payouts_with_names,
    lists_name_card_holders_merchants_and_disputed_sales,
    the_to_do_counts_follow_what_waits_for_each_official,
);
