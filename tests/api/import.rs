//! The talent import (DESIGN §10): spreadsheets as bureaus really save them, the report
//! of a dry run, the job, the letters taken once, re-imports, updates, invalid rows,
//! the bureau's list as the truth, and a failed job that continues.

use std::io::Cursor;
use std::time::Duration;

use calamine::{Data, Reader, Xlsx};
use reqwest::{Method, StatusCode};
use rust_xlsxwriter::{Format, Workbook};
use serde_json::{Value, json};
use talentcard::auth::Role;

use crate::both_backends;
use crate::helpers::{TestApp, assert_problem};
use crate::talents::{TALENT_PASSWORD, create_talent, id_number, phone};

const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// `POST /talents/import` with a raw body.
pub async fn upload(
    app: &TestApp,
    token: &str,
    query: &str,
    body: Vec<u8>,
    content_type: &str,
) -> (StatusCode, Value) {
    let res = app
        .client
        .post(format!("{}/api/v1/talents/import{query}", app.address))
        .bearer_auth(token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

pub fn csv(rows: &[[&str; 5]]) -> Vec<u8> {
    let mut out = String::from("姓名,身份证号,手机号,工作单位,人才层次\n");
    for row in rows {
        out.push_str(&row.join(","));
        out.push('\n');
    }
    out.into_bytes()
}

/// Polls the job until it is no longer running.
pub async fn finished(app: &TestApp, token: &str, job_id: &str) -> Value {
    for _ in 0..300 {
        let (status, job) = app
            .get(&format!("/api/v1/talents/import/{job_id}"), token)
            .await;
        assert_eq!(status, StatusCode::OK, "{job}");
        if job["status"] != "running" {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the import job {job_id} did not finish in 30 s");
}

/// Imports and waits: the finished job.
pub async fn import(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> Value {
    let (status, started) = upload(app, token, query, body, "text/csv").await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    finished(app, token, started["job_id"].as_str().unwrap()).await
}

async fn talent_count(app: &TestApp) -> i64 {
    app.with_conn(|conn| {
        use diesel::prelude::*;
        talentcard::schema::talents::table
            .count()
            .get_result::<i64>(conn)
            .unwrap()
    })
    .await
}

async fn letters(app: &TestApp, token: &str, job: &Value) -> reqwest::Response {
    app.client
        .get(format!(
            "{}{}",
            app.address,
            job["letters_url"].as_str().unwrap()
        ))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
}

fn sheet(bytes: Vec<u8>, name: &str) -> Vec<Vec<String>> {
    let mut book: Xlsx<_> = Xlsx::new(Cursor::new(bytes)).unwrap();
    book.worksheet_range(name)
        .unwrap()
        .rows()
        .map(|r| r.iter().map(Data::to_string).collect())
        .collect()
}

fn codes_of(report: &Value) -> Vec<(u64, String)> {
    report["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["row"].as_u64().unwrap(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_dry_run_reports_every_row_and_writes_nothing(app: TestApp) {
    let admin = app.admin_token().await;
    let before = talent_count(&app).await;
    let body = csv(&[
        ["张三", &id_number(101), &phone(101), "遂州大学", "A"],
        ["李四", &id_number(102), "1381234", "遂州大学", "B"],
        ["王五", "110105194912310021", &phone(103), "", "顶尖"],
        ["赵六", &id_number(104), &phone(104), "", "F"],
        ["张三", &id_number(101), &phone(101), "遂州大学", "A"],
        ["钱七", &id_number(105), &phone(101), "", "C"],
    ]);
    let (status, report) = upload(&app, &admin, "?dry_run=true", body, "text/csv").await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["format"], "csv_utf8");
    assert_eq!(report["header_row"], 1);
    assert_eq!(report["rows"], 6);
    assert_eq!(report["new"], 1, "{report}");
    assert_eq!(report["ok"], 2, "the first row and its identical repeat");
    assert_eq!(
        codes_of(&report),
        vec![
            (3, "phone_invalid".into()),
            (4, "id_number_check".into()),
            (5, "tier_invalid".into()),
            (7, "phone_duplicate".into()),
        ]
    );
    let error = &report["errors"][0];
    assert_eq!(error["column"], "C");
    assert_eq!(error["field"], "phone");
    assert!(
        error["message"].as_str().unwrap().contains("手机号"),
        "{error}"
    );
    assert!(
        error["message_en"].as_str().unwrap().contains("phone"),
        "{error}"
    );
    assert_eq!(report["duplicates"][0]["rows"], json!([2, 6]));
    assert_eq!(
        report["duplicates"][0]["id_number_masked"],
        format!("5109**********{}", &id_number(101)[14..])
    );
    assert_eq!(talent_count(&app).await, before, "a dry run writes nothing");
    app.stop().await;
}

/// A workbook as a bureau sends it: a cover sheet first, a title row, full-width and
/// padded cells, phones as numbers and with +86, dates as Excel dates and serials,
/// empty rows at the end — and ID numbers Excel turned into numbers.
fn messy_workbook() -> Vec<u8> {
    let mut book = Workbook::new();
    let cover = book.add_worksheet();
    cover.set_name("说明").unwrap();
    cover.write_string(0, 0, "本表由人社局提供").unwrap();
    let ws = book.add_worksheet();
    ws.set_name("名单").unwrap();
    ws.write_string(0, 0, "遂州市2026年第一批高层次人才名单")
        .unwrap();
    for (col, header) in [
        "序号",
        "名字",
        "公民身份号码",
        "联系电话",
        "单位",
        "类别",
        "有效期",
    ]
    .iter()
    .enumerate()
    {
        ws.write_string(1, col as u16, *header).unwrap();
    }
    let full_width: String = id_number(111)
        .chars()
        .map(|c| char::from_u32(c as u32 - 0x21 + 0xFF01).unwrap())
        .collect();
    let date = Format::new().set_num_format("yyyy-mm-dd");
    let next_year = talentcard::time::to_local(talentcard::time::now())
        .date_naive()
        .checked_add_months(chrono::Months::new(24))
        .unwrap();
    let serial = (next_year - chrono::NaiveDate::from_ymd_opt(1899, 12, 30).unwrap()).num_days();
    /// A cell written as text or as a number, as Excel holds it.
    enum Cell {
        Text(String),
        Number(f64),
    }
    use Cell::{Number, Text};
    let rows = [
        // Row 3: full-width ID digits, padded name, phone as a number, a date cell.
        (
            "张  三",
            Text(format!(" {full_width} ")),
            Number(13900000111.0),
            Some(serial),
        ),
        // Row 4: lower-case x, +86 with dashes.
        (
            "李四",
            Text(id_number_with_x().to_lowercase()),
            Text("+86 139-0000-0112".into()),
            None,
        ),
        // Row 5: 86- prefix and spaces.
        (
            "王五",
            Text(id_number(113)),
            Text("86-139 0000 0113".into()),
            None,
        ),
        // Row 6: the ID number as a number (Excel shows 5.10902E+17).
        (
            "赵六",
            Number(510_902_199_001_011_140.0),
            Text("13900000114".into()),
            None,
        ),
        // Row 7: the ID number as Excel shows it once it became a number.
        (
            "钱七",
            Text("5.10902E+17".into()),
            Text("13900000115".into()),
            None,
        ),
        // Row 8: precision lost: the last three digits became zeros.
        (
            "孙八",
            Text("510902199001011000".into()),
            Text("13900000116".into()),
            None,
        ),
    ];
    for (i, (name, id, phone_cell, last_day)) in rows.iter().enumerate() {
        let r = 2 + i as u32;
        ws.write_number(r, 0, (i + 1) as f64).unwrap();
        ws.write_string(r, 1, *name).unwrap();
        for (col, cell) in [(2, id), (3, phone_cell)] {
            match cell {
                Text(text) => ws.write_string(r, col, text).unwrap(),
                Number(n) => ws.write_number(r, col, *n).unwrap(),
            };
        }
        ws.write_string(r, 4, "遂州大学\u{3000}").unwrap();
        ws.write_string(r, 5, ["Ａ", "b类", "领军", "C", "D", "E"][i])
            .unwrap();
        if let Some(serial) = last_day {
            ws.write_number_with_format(r, 6, *serial as f64, &date)
                .unwrap();
        }
    }
    // Rows Excel keeps after a deletion: formatted but empty.
    for r in 8..12 {
        ws.write_blank(r, 1, &date).unwrap();
        ws.write_string(r, 4, " ").unwrap();
    }
    book.save_to_buffer().unwrap()
}

/// A valid ID number whose check character is X.
fn id_number_with_x() -> String {
    (500..999)
        .map(id_number)
        .find(|id| id.ends_with('X'))
        .unwrap()
}

async fn messy_cells_from_real_spreadsheets_are_understood(app: TestApp) {
    let admin = app.admin_token().await;
    let (status, report) = upload(&app, &admin, "?dry_run=true", messy_workbook(), XLSX).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["format"], "xlsx");
    assert_eq!(report["sheet"], "名单", "the cover sheet is passed over");
    assert_eq!(report["header_row"], 2, "the title row is passed over");
    assert_eq!(report["ignored_columns"], json!(["序号"]));
    assert_eq!(
        report["rows"], 6,
        "the empty rows at the end are not rows: {report}"
    );
    assert_eq!(report["new"], 3, "{report}");
    let errors = codes_of(&report);
    assert_eq!(
        errors,
        vec![
            (6, "id_number_as_number".into()),
            (7, "id_number_as_number".into()),
            (8, "id_number_as_number".into()),
        ],
        "{report}"
    );
    for e in report["errors"].as_array().unwrap() {
        assert_eq!(e["column"], "C");
        assert!(e["message"].as_str().unwrap().contains("文本"), "{e}");
        assert!(e["message_en"].as_str().unwrap().contains("as text"), "{e}");
    }
    // The valid rows imported as they are meant.
    let job = import_xlsx(&app, &admin, "?skip_invalid=true", messy_workbook()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["created"], 3);
    let (_, found) = app
        .get("/api/v1/talents?name=%E5%BC%A0%E4%B8%89", &admin)
        .await;
    let zhang = &found["items"][0];
    assert_eq!(zhang["name"], "张三", "padding inside a Chinese name goes");
    assert_eq!(zhang["employer"], "遂州大学", "the ideographic space goes");
    assert_eq!(zhang["phone_masked"], "139****0111");
    assert_eq!(zhang["tier"], "A");
    let card_no = zhang["card"]["card_no"].as_str().unwrap();
    let (_, card) = app.get(&format!("/api/v1/cards/{card_no}"), &admin).await;
    let last_day = talentcard::time::to_local(talentcard::time::now())
        .date_naive()
        .checked_add_months(chrono::Months::new(24))
        .unwrap();
    assert_eq!(
        card["valid_until"],
        last_day.to_string(),
        "the Excel date is the card's last day"
    );
    let (_, li) = app
        .get("/api/v1/talents?name=%E6%9D%8E%E5%9B%9B", &admin)
        .await;
    assert_eq!(li["items"][0]["tier"], "B");
    assert_eq!(li["items"][0]["phone_masked"], "139****0112");
    assert!(
        li["items"][0]["id_number_masked"]
            .as_str()
            .unwrap()
            .ends_with('X'),
        "a lower-case x is stored upper-case"
    );
    let (_, wang) = app
        .get("/api/v1/talents?name=%E7%8E%8B%E4%BA%94", &admin)
        .await;
    assert_eq!(wang["items"][0]["phone_masked"], "139****0113");
    app.stop().await;
}

async fn import_xlsx(app: &TestApp, token: &str, query: &str, body: Vec<u8>) -> Value {
    let (status, started) = upload(app, token, query, body, XLSX).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    finished(app, token, started["job_id"].as_str().unwrap()).await
}

async fn csv_in_gb18030_or_with_a_bom_reads_the_same(app: TestApp) {
    let admin = app.admin_token().await;
    let text = String::from_utf8(csv(&[
        [
            "欧阳娜娜",
            &id_number(121),
            &phone(121),
            "遂州锂电科技有限公司",
            "骨干",
        ],
        [
            "张伟",
            &id_number(122),
            &phone(122),
            "遂州市中心医院",
            "青年",
        ],
    ]))
    .unwrap();
    let (gb, _, unmappable) = encoding_rs::GB18030.encode(&text);
    assert!(!unmappable);
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend_from_slice(text.as_bytes());
    for (bytes, format) in [
        (gb.into_owned(), "csv_gb18030"),
        (bom, "csv_utf8"),
        (text.clone().into_bytes(), "csv_utf8"),
    ] {
        let (status, report) = upload(&app, &admin, "?dry_run=true", bytes, "text/csv").await;
        assert_eq!(status, StatusCode::OK, "{report}");
        assert_eq!(report["format"], format);
        assert_eq!(report["new"], 2, "{report}");
        assert_eq!(report["errors"], json!([]));
    }
    let (gb, _, _) = encoding_rs::GB18030.encode(&text);
    let job = import(&app, &admin, "", gb.into_owned()).await;
    assert_eq!(job["created"], 2, "{job}");
    let (_, found) = app
        .get("/api/v1/talents?employer=%E9%94%82%E7%94%B5", &admin)
        .await;
    assert_eq!(
        found["items"][0]["name"], "欧阳娜娜",
        "decoded, not mojibake"
    );
    assert_eq!(found["items"][0]["tier"], "D");
    app.stop().await;
}

async fn an_import_registers_talents_with_cards_and_letters_taken_once(app: TestApp) {
    let admin = app.admin_token().await;
    let other_admin = app.official_token(Role::Admin, "admin-b").await;
    let body = csv(&[
        ["张三", &id_number(131), &phone(131), "遂州大学", "A"],
        ["李四", &id_number(132), &phone(132), "遂州大学", "C"],
        ["王五", &id_number(133), &phone(133), "", "E"],
    ]);
    let job = import(&app, &admin, "", body.clone()).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["processed"], 3);
    assert_eq!(job["total"], 3);
    assert_eq!(job["created"], 3);
    let (_, seen_by_other) = app
        .get(
            &format!("/api/v1/talents/import/{}", job["job_id"].as_str().unwrap()),
            &other_admin,
        )
        .await;
    assert!(
        seen_by_other.get("letters_url").is_none(),
        "only the importing admin is offered the letters"
    );
    let res = letters(&app, &other_admin, &job).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    // Each talent has a live card and no usable password until activated.
    let (_, listed) = app.get("/api/v1/talents?card_status=active", &admin).await;
    assert_eq!(listed["total"], 3, "{listed}");
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": phone(131), "password": TALENT_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let res = letters(&app, &admin, &job).await;
    assert_eq!(res.status(), StatusCode::OK);
    let rows = sheet(res.bytes().await.unwrap().to_vec(), "激活信");
    assert_eq!(rows.len(), 4, "a header and three letters");
    assert_eq!(rows[1][1], "张三");
    assert_eq!(
        rows[1][2],
        format!("5109**********{}", &id_number(131)[14..])
    );
    assert_eq!(rows[1][3], phone(131));
    let code = rows[1][6].clone();
    assert_eq!(code.len(), 19, "{code}");
    let (status, session) = app.activate(&phone(131), &code, TALENT_PASSWORD).await;
    assert_eq!(status, StatusCode::OK, "{session}");
    let (_, card) = app
        .get("/api/v1/me/card", session["access_token"].as_str().unwrap())
        .await;
    assert_eq!(card["card_no"], rows[1][4], "{card}");
    // Once: the second download is gone, and the job no longer offers it.
    let again = letters(&app, &admin, &job).await;
    assert_eq!(again.status(), StatusCode::GONE);
    let (_, after) = app
        .get(
            &format!("/api/v1/talents/import/{}", job["job_id"].as_str().unwrap()),
            &admin,
        )
        .await;
    assert!(after.get("letters_url").is_none(), "{after}");
    let kept: i64 = app
        .with_conn(|conn| {
            use diesel::prelude::*;
            talentcard::schema::import_letters::table
                .count()
                .get_result(conn)
                .unwrap()
        })
        .await;
    assert_eq!(kept, 0, "taken letters are deleted");

    // The same file again creates nobody.
    let again = import(&app, &admin, "", body).await;
    assert_eq!(again["created"], 0, "{again}");
    assert_eq!(again["report"]["unchanged"], 3);
    assert!(again.get("letters_url").is_none());
    assert_eq!(talent_count(&app).await, 3);
    app.stop().await;
}

async fn changes_of_registered_talents_are_reported_and_applied_only_when_asked(app: TestApp) {
    let admin = app.admin_token().await;
    create_talent(&app, &admin, 141, "C").await;
    let talent_id = {
        let (_, found) = app.get("/api/v1/talents", &admin).await;
        found["items"][0]["id"].as_i64().unwrap()
    };
    let (status, card) = app
        .post(
            &format!("/api/v1/talents/{talent_id}/cards"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{card}");
    let changed = csv(&[["测试141", &id_number(141), &phone(142), "遂州师范学院", "B"]]);
    let (_, report) = upload(&app, &admin, "?dry_run=true", changed.clone(), "text/csv").await;
    assert_eq!(report["new"], 0);
    let row = &report["changed"][0];
    assert_eq!(row["talent_id"], talent_id);
    assert_eq!(row["applied"], false);
    let fields: Vec<&str> = row["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, vec!["phone", "employer", "tier"]);
    assert_eq!(row["changes"][0]["from"], "139****0141", "phones masked");
    assert_eq!(row["changes"][0]["to"], "139****0142");

    let job = import(&app, &admin, "", changed.clone()).await;
    assert_eq!(job["updated"], 0, "not applied without update_existing");
    let (_, same) = app
        .get(&format!("/api/v1/talents/{talent_id}"), &admin)
        .await;
    assert_eq!(same["tier"], "C");

    let job = import(&app, &admin, "?update_existing=true", changed).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["updated"], 1);
    let (_, now) = app
        .get(&format!("/api/v1/talents/{talent_id}"), &admin)
        .await;
    assert_eq!(now["tier"], "B");
    assert_eq!(now["employer"], "遂州师范学院");
    assert_eq!(now["phone_masked"], "139****0142");
    assert_ne!(
        now["card"]["card_no"], card["card_no"],
        "a new tier is a reissued card"
    );
    // The login follows the phone; the password stays the talent's.
    let (status, _) = app
        .request(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({"username": phone(141), "password": TALENT_PASSWORD})),
        )
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    app.login(&phone(142), TALENT_PASSWORD).await;
    let actions = app.audit_actions("talent", talent_id).await;
    assert!(actions.contains(&"talent.update".to_owned()), "{actions:?}");
    app.stop().await;
}

async fn invalid_rows_stop_the_import_unless_skipped(app: TestApp) {
    let admin = app.admin_token().await;
    let body = csv(&[
        ["张三", &id_number(151), &phone(151), "", "A"],
        ["李四", &id_number(152), "12345", "", "A"],
    ]);
    let refused = upload(&app, &admin, "", body.clone(), "text/csv").await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "import_invalid");
    assert!(
        refused.1["detail"].as_str().unwrap().contains("1 of 2"),
        "{}",
        refused.1
    );
    assert_eq!(talent_count(&app).await, 0, "nothing written");
    let job = import(&app, &admin, "?skip_invalid=true", body).await;
    assert_eq!(job["created"], 1);
    assert_eq!(job["report"]["errors"][0]["row"], 3);
    assert_eq!(talent_count(&app).await, 1);
    app.stop().await;
}

async fn the_bureaus_list_is_the_truth_when_syncing(app: TestApp) {
    let admin = app.admin_token().await;
    let first = csv(&[
        ["张三", &id_number(161), &phone(161), "", "A"],
        ["李四", &id_number(162), &phone(162), "", "A"],
        ["王五", &id_number(163), &phone(163), "", "B"],
    ]);
    import(&app, &admin, "", first).await;
    // The bureau's new A list drops 李四; tier B is not in the file, so 王五 stays.
    let second = csv(&[["张三", &id_number(161), &phone(161), "", "A"]]);
    let (_, report) = upload(
        &app,
        &admin,
        "?dry_run=true&sync=true",
        second.clone(),
        "text/csv",
    )
    .await;
    let missing = report["missing"].as_array().unwrap();
    assert_eq!(missing.len(), 1, "{report}");
    assert_eq!(missing[0]["name"], "李四");
    let job = import(&app, &admin, "?sync=true", second).await;
    let li = job["report"]["missing"][0]["talent_id"].as_i64().unwrap();
    let path = format!(
        "/api/v1/talents/import/{}/suspend-missing",
        job["job_id"].as_str().unwrap()
    );
    // Only someone on the list.
    let (_, found) = app
        .get("/api/v1/talents?name=%E5%BC%A0%E4%B8%89", &admin)
        .await;
    let zhang = found["items"][0]["id"].as_i64().unwrap();
    let refused = app
        .post(&path, &admin, json!({"talent_ids": [zhang]}))
        .await;
    crate::helpers::assert_invalid(&refused, "talent_ids");
    let refused = app.post(&path, &admin, json!({"talent_ids": []})).await;
    crate::helpers::assert_invalid(&refused, "talent_ids");
    let (status, done) = app.post(&path, &admin, json!({"talent_ids": [li]})).await;
    assert_eq!(status, StatusCode::OK, "{done}");
    assert_eq!(done["suspended"][0]["talent_id"], li);
    let (_, li_now) = app.get(&format!("/api/v1/talents/{li}"), &admin).await;
    assert_eq!(li_now["card"]["status"], "suspended");
    let (_, suspended) = app
        .get("/api/v1/talents?card_status=suspended", &admin)
        .await;
    assert_eq!(suspended["total"], 1, "nobody else: {suspended}");
    app.stop().await;
}

async fn a_failed_import_runs_again_and_continues(app: TestApp) {
    let admin = app.admin_token().await;
    let rows: Vec<[String; 5]> = (0..40)
        .map(|i| {
            [
                format!("人才{i}"),
                id_number(200 + i),
                phone(200 + i),
                String::new(),
                "E".into(),
            ]
        })
        .collect();
    let body = {
        let refs: Vec<[&str; 5]> = rows
            .iter()
            .map(|r| [&*r[0], &*r[1], &*r[2], &*r[3], &*r[4]])
            .collect();
        csv(&refs)
    };
    // An account already holds the login of row 32 (written past the API's checks): the
    // file's check cannot see it, so the job fails there.
    let blocker = phone(230);
    let blocked = blocker.clone();
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::users as u;
        let now = talentcard::time::now();
        diesel::insert_into(u::table)
            .values((
                u::username.eq(&blocked),
                u::password_hash.eq("!"),
                u::role.eq("auditor"),
                u::display_name.eq("blocker"),
                u::active.eq(false),
                u::created_at.eq(now),
                u::updated_at.eq(now),
            ))
            .execute(conn)
            .unwrap();
    })
    .await;
    let job = import(&app, &admin, "", body).await;
    assert_eq!(job["status"], "failed", "{job}");
    assert!(job["failure"].as_str().unwrap().contains("Rows"), "{job}");
    let processed = job["processed"].as_i64().unwrap();
    assert!(processed > 0 && processed < 40, "{job}");
    assert_eq!(job["created"], processed, "what was written stays written");
    assert_eq!(talent_count(&app).await, processed);
    let id = job["job_id"].as_str().unwrap().to_owned();
    // Running it again while the obstacle is there fails the same way; once that account
    // has another login (accounts are never deleted), the job continues from the next
    // batch.
    app.with_conn(move |conn| {
        use diesel::prelude::*;
        use talentcard::schema::users as u;
        diesel::update(u::table.filter(u::username.eq(&blocker)))
            .set(u::username.eq("blocker-renamed"))
            .execute(conn)
            .unwrap();
    })
    .await;
    let (status, _) = app
        .post(
            &format!("/api/v1/talents/import/{id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let job = finished(&app, &admin, &id).await;
    assert_eq!(job["status"], "done", "{job}");
    assert_eq!(job["processed"], 40);
    assert_eq!(job["created"], 40);
    assert_eq!(talent_count(&app).await, 40);
    let res = letters(&app, &admin, &job).await;
    let list = sheet(res.bytes().await.unwrap().to_vec(), "激活信");
    assert_eq!(list.len(), 41, "every letter, both runs' batches");
    let (status, again) = app
        .post(
            &format!("/api/v1/talents/import/{id}/retry"),
            &admin,
            json!({}),
        )
        .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "a done job does not run again: {again}"
    );
    app.stop().await;
}

async fn bad_uploads_are_refused_clearly(app: TestApp) {
    let admin = app.admin_token().await;
    for (body, content_type, status, code) in [
        (
            Vec::new(),
            "text/csv",
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_unreadable",
        ),
        (
            vec![0x00, 0x81, 0xFF, 0x00, 0x30],
            "application/octet-stream",
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_unreadable",
        ),
        (
            b"PK\x03\x04 not a zip".to_vec(),
            XLSX,
            StatusCode::UNPROCESSABLE_ENTITY,
            "file_unreadable",
        ),
        (
            b"{}".to_vec(),
            "application/json",
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported_media_type",
        ),
        (
            vec![b'a'; 21 * 1024 * 1024],
            "text/csv",
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
        ),
    ] {
        let refused = upload(&app, &admin, "?dry_run=true", body, content_type).await;
        assert_eq!(refused.0, status, "{content_type}: {}", refused.1);
        assert_eq!(refused.1["code"], code, "{}", refused.1);
    }
    // A header the import does not understand is named, with its column.
    let (status, report) = upload(
        &app,
        &admin,
        "?dry_run=true",
        "姓名,身份证号,手机号,籍贯,人才层次\n张三,1,2,四川,A\n"
            .as_bytes()
            .to_vec(),
        "text/csv",
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        report["header_problems"],
        json!([{"code": "header_unknown", "column": "D", "header": "籍贯"}])
    );
    let refused = upload(
        &app,
        &admin,
        "",
        "姓名,手机号\n张三,13900000001\n".as_bytes().to_vec(),
        "text/csv",
    )
    .await;
    assert_problem(&refused, StatusCode::UNPROCESSABLE_ENTITY, "import_invalid");
    let refused = upload(&app, &admin, "?dry_run=maybe", csv(&[]), "text/csv").await;
    crate::helpers::assert_invalid(&refused, "dry_run");
    let (status, _) = app.get("/api/v1/talents/import/no-such-job", &admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    app.stop().await;
}

/// A multipart/form-data body as a browser sends a chosen file.
fn form(field: &str, bytes: &[u8]) -> (Vec<u8>, String) {
    let boundary = "----talentcard-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nfirst import\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"{field}\"; filename=\"名单.csv\"\r\n\
         Content-Type: text/csv\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    (body, format!("multipart/form-data; boundary={boundary}"))
}

async fn a_file_chosen_in_a_browser_form_is_read(app: TestApp) {
    let admin = app.admin_token().await;
    let file = csv(&[["张三", &id_number(181), &phone(181), "", "A"]]);
    let (body, content_type) = form("file", &file);
    let (status, report) = upload(&app, &admin, "?dry_run=true", body, &content_type).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["new"], 1, "{report}");
    let (body, content_type) = form("attachment", &file);
    let refused = upload(&app, &admin, "?dry_run=true", body, &content_type).await;
    crate::helpers::assert_invalid(&refused, "file");
    app.stop().await;
}

async fn only_admins_import(app: TestApp) {
    let tokens = crate::talents::role_tokens(&app).await;
    let body = csv(&[["张三", &id_number(171), &phone(171), "", "A"]]);
    for (role, token) in &tokens {
        let expected = match *role {
            "admin" => StatusCode::OK,
            "anonymous" => StatusCode::UNAUTHORIZED,
            _ => StatusCode::FORBIDDEN,
        };
        let mut req = app
            .client
            .post(format!(
                "{}/api/v1/talents/import?dry_run=true",
                app.address
            ))
            .header("content-type", "text/csv")
            .body(body.clone());
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), expected, "{role} imports");
        for path in [
            "/api/v1/talents/import/template",
            "/api/v1/talents/import/x",
        ] {
            let mut req = app.client.get(format!("{}{path}", app.address));
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            let status = req.send().await.unwrap().status();
            let expected = match *role {
                "admin" if path.ends_with("/x") => StatusCode::NOT_FOUND,
                "admin" => StatusCode::OK,
                "anonymous" => StatusCode::UNAUTHORIZED,
                _ => StatusCode::FORBIDDEN,
            };
            assert_eq!(status, expected, "{role} {path}");
        }
    }
    app.stop().await;
}

async fn the_template_imports_nobody_and_keeps_id_numbers_as_text(app: TestApp) {
    let admin = app.admin_token().await;
    let res = app
        .client
        .get(format!("{}/api/v1/talents/import/template", app.address))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let bytes = res.bytes().await.unwrap().to_vec();
    let header = sheet(bytes.clone(), "人才名单");
    assert_eq!(
        header[0],
        vec![
            "姓名",
            "身份证号",
            "手机号",
            "工作单位",
            "人才层次",
            "有效期至"
        ]
    );
    let (status, report) = upload(&app, &admin, "?dry_run=true", bytes, XLSX).await;
    assert_eq!(status, StatusCode::OK, "{report}");
    assert_eq!(report["rows"], 0);
    assert_eq!(report["header_problems"], json!([]));
    app.stop().await;
}

both_backends!(
    a_dry_run_reports_every_row_and_writes_nothing,
    messy_cells_from_real_spreadsheets_are_understood,
    csv_in_gb18030_or_with_a_bom_reads_the_same,
    an_import_registers_talents_with_cards_and_letters_taken_once,
    changes_of_registered_talents_are_reported_and_applied_only_when_asked,
    invalid_rows_stop_the_import_unless_skipped,
    the_bureaus_list_is_the_truth_when_syncing,
    a_failed_import_runs_again_and_continues,
    bad_uploads_are_refused_clearly,
    a_file_chosen_in_a_browser_form_is_read,
    only_admins_import,
    the_template_imports_nobody_and_keeps_id_numbers_as_text,
);
