//! The printed card (DESIGN §11): an SVG at ID-1 size (85.60 × 53.98 mm) for talents
//! who pay with the card and a PIN. It is a convenience, never a token: the QR code holds
//! only the card number (scanning it fills in the number at the counter), and the PIN is
//! always needed.

use actix_web::http::header;
use actix_web::{HttpResponse, get, web};
use qrcode::{Color, EcLevel, QrCode};

use super::{Card, CardNo, CardStatus, last_valid_day};
use crate::auth::principal::OfficialOrTalent;
use crate::auth::{Auth, Role};
use crate::error::{ApiError, ApiResult};
use crate::state::AppState;

/// ID-1 in tenths of a millimetre: the SVG's user unit.
const WIDTH: f64 = 856.0;
const HEIGHT: f64 = 539.8;

/// Text for XML character data and attribute values.
fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// `812345678901` → `8123 4567 8901`, as people read it out.
pub fn grouped(card_no: &str) -> String {
    card_no
        .as_bytes()
        .chunks(4)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join(" ")
}

/// The QR code of the card number as one path of unit squares, `size` wide at (x, y).
fn qr_path(card_no: &str, x: f64, y: f64, size: f64) -> ApiResult<String> {
    let code = QrCode::with_error_correction_level(card_no.as_bytes(), EcLevel::M)
        .map_err(|e| ApiError::internal(anyhow::anyhow!("QR encoding failed: {e}")))?;
    let modules = code.width();
    let colors = code.to_colors();
    // A 2-module quiet zone inside the white square keeps scanners happy on a card.
    let unit = size / (modules + 4) as f64;
    let mut d = String::new();
    for (i, color) in colors.iter().enumerate() {
        if *color == Color::Dark {
            let (col, row) = (i % modules, i / modules);
            d.push_str(&format!(
                "M{:.2} {:.2}h{unit:.2}v{unit:.2}h-{unit:.2}z",
                x + (col + 2) as f64 * unit,
                y + (row + 2) as f64 * unit
            ));
        }
    }
    Ok(format!(
        r##"<rect x="{x}" y="{y}" width="{size}" height="{size}" fill="#fff"/><path d="{d}" fill="#000"/>"##
    ))
}

/// The card face as SVG.
pub fn svg(card: &Card, holder: &str) -> ApiResult<String> {
    let tier = crate::tier::printed(&card.tier);
    let qr = qr_path(&card.card_no, 586.0, 150.0, 230.0)?;
    let until = last_valid_day(card.expires_at);
    Ok(format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="85.6mm" height="53.98mm" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="遂州英才卡 {no}">
<title>遂州英才卡 {no}</title>
<rect x="0" y="0" width="{WIDTH}" height="{HEIGHT}" rx="32" fill="#fdfaf3" stroke="#8a1c1c" stroke-width="4"/>
<rect x="0" y="0" width="{WIDTH}" height="110" rx="32" fill="#8a1c1c"/>
<rect x="0" y="78" width="{WIDTH}" height="32" fill="#8a1c1c"/>
<circle cx="80" cy="55" r="34" fill="none" stroke="#f3d27a" stroke-width="6"/>
<text x="80" y="70" text-anchor="middle" font-size="40" font-weight="700" fill="#f3d27a" font-family="sans-serif">遂</text>
<text x="135" y="70" font-size="46" font-weight="700" fill="#fff" font-family="sans-serif">遂州英才卡</text>
<text x="820" y="68" text-anchor="end" font-size="24" fill="#f3d27a" font-family="sans-serif">SUIZHOU TALENT CARD</text>
<text x="48" y="200" font-size="56" font-weight="700" fill="#222" font-family="sans-serif">{holder}</text>
<text x="48" y="256" font-size="32" fill="#8a1c1c" font-family="sans-serif">{tier}</text>
<text x="48" y="350" font-size="46" font-weight="700" fill="#222" font-family="monospace" letter-spacing="2">{grouped}</text>
<text x="48" y="398" font-size="26" fill="#555" font-family="sans-serif">有效期至 {until}</text>
{qr}
<text x="{mid}" y="505" text-anchor="middle" font-size="30" font-weight="700" fill="#8a1c1c" font-family="sans-serif">持卡在合作商家出示并输入密码</text>
<desc>卡号 {no}。二维码只含卡号；在柜台用卡还须持卡人输入密码。The QR code holds only the card number; the PIN is always needed.</desc>
</svg>
"##,
        no = card.card_no,
        holder = escape(holder),
        tier = escape(&tier),
        grouped = grouped(&card.card_no),
        mid = WIDTH / 2.0,
    ))
}

/// The card to print, as SVG at ID-1 size: an administrator's for any card, a talent's
/// for their own. Only a card in use.
#[utoipa::path(
    tag = "cards",
    params(("card_no" = String, Path, pattern = r"^[ -]*([0-9][ -]*){12}$", description = "12 digits; spaces and dashes are ignored")),
    responses(
        (status = 200, description = "SVG, 85.60 × 53.98 mm", content_type = "image/svg+xml"),
        (status = 403, body = crate::error::Problem),
        (status = 404, body = crate::error::Problem),
        (status = 409, body = crate::error::Problem)
    ),
    security(("bearer" = []), ("cookie" = []))
)]
#[get("/cards/{card_no}/print")]
pub async fn print_card(
    auth: Auth<OfficialOrTalent>,
    state: web::Data<AppState>,
    path: web::Path<String>,
) -> ApiResult<HttpResponse> {
    let card_no = CardNo::parse(&path.into_inner())?;
    let principal = auth.into_inner();
    if principal.role == Role::Auditor {
        return Err(ApiError::forbidden(
            "Cards are printed by the talent office or the talent.",
        ));
    }
    let now = crate::time::now();
    let (card, holder) = state
        .db
        .run(move |conn| {
            let card = super::find_by_no(conn, &card_no)?;
            if principal.role == Role::Talent && principal.talent_id != Some(card.talent_id) {
                // As if it did not exist: a talent learns nothing of other cards.
                return Err(ApiError::not_found(format!("No card {card_no}.")));
            }
            let holder = crate::talents::find(conn, card.talent_id)?.name;
            Ok((card, holder))
        })
        .await?;
    if !matches!(
        card.status_at(now),
        CardStatus::Active | CardStatus::Suspended
    ) {
        return Err(ApiError::invalid_transition(format!(
            "Card {} is {}: print the card in use.",
            card.card_no,
            card.status_at(now).as_str()
        )));
    }
    Ok(HttpResponse::Ok()
        .insert_header((header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"))
        // Opened on its own, the SVG is a document: it may run nothing.
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; style-src 'unsafe-inline'",
        ))
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("inline; filename=\"talent-card-{}.svg\"", card.card_no),
        ))
        .body(svg(&card, &holder)?))
}
