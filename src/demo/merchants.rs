//! Demo merchants: across 衣食住行 and the districts, each active with an approved
//! subsidised offer, one still pending. Kept with the other demo data, so the merchants
//! module holds the domain and its workflow only.

use crate::auth::{Actor, Role};
use crate::db::DbConnection;
use crate::error::{ApiError, ApiResult};
use crate::merchants::{self, Category, Coordinates, District, MerchantAction, NewMerchant, Uscc};
use crate::users::{self, Username};

/// Demo data: merchants across 衣食住行 and districts, each active with an approved
/// subsidised offer, one still pending; logins for the owner and a cashier of the first.
/// `password` generates a fresh demo password per login.
pub fn seed(
    conn: &mut DbConnection,
    districts: &[String],
    password: &mut dyn FnMut() -> String,
) -> ApiResult<Vec<(Role, String, String, String)>> {
    use crate::auth::password::Password;
    use crate::offers::{self, NewOffer, OfferKind};
    use crate::tier::{Tier, TierSet};

    let actor = Actor::system("demo");
    let district = |i: usize| -> ApiResult<District> {
        District::parse(&districts[i % districts.len()], districts)
    };
    // Valid codes built from 17 chosen characters plus their check character.
    let uscc = |body: &str| -> ApiResult<Uscc> {
        let check = Uscc::check_char(body).ok_or_else(|| {
            ApiError::internal(anyhow::anyhow!("demo uscc body {body:?} is invalid"))
        })?;
        Uscc::parse(&format!("{body}{check}"))
    };
    let samples = [
        (
            "锦衣坊服饰",
            "91510903MA6A00001",
            Category::Clothing,
            "遂州大道中段88号",
            1200,
            3_000,
            5000,
        ),
        (
            "船山老味道餐厅",
            "91510903MA6A00002",
            Category::Food,
            "明月路16号",
            1000,
            5_000,
            5000,
        ),
        (
            "观音湖畔酒店",
            "91510904MA6A00003",
            Category::Housing,
            "观音湖北路1号",
            1500,
            20_000,
            6000,
        ),
        (
            "遂州绿色出行",
            "91510922MA6A00004",
            Category::Transport,
            "河东新区天宫路9号",
            2000,
            2_000,
            4000,
        ),
        (
            "子昂书院培训中心",
            "91510921MA6A00005",
            Category::Education,
            "射洪市子昂大道3号",
            800,
            10_000,
            5000,
        ),
    ];
    let mut logins = Vec::new();
    for (i, (name, code, category, address, rate, cap, subsidy)) in samples.into_iter().enumerate()
    {
        let owner_password = password();
        let owner = Username::parse(&format!("shop{}", i + 1))?;
        let hash = users::hash_password(&Password::parse(&owner_password)?)?;
        let merchant = crate::db::write_tx(conn, |conn| {
            let merchant = merchants::apply(
                conn,
                &actor,
                NewMerchant {
                    name: name.into(),
                    uscc: uscc(code)?,
                    category,
                    district: district(i)?,
                    address: address.into(),
                    coordinates: Some(Coordinates {
                        lat_e6: 30_513_000 + i as i32 * 3_000,
                        lon_e6: 105_592_000 + i as i32 * 4_000,
                    }),
                    contact_name: "张经理".into(),
                    contact_phone: format!("1380825000{i}"),
                    bank_name: "遂州银行".into(),
                    bank_account: format!("62220202001122{i:05}"),
                    owner_username: owner.clone(),
                    owner_password_hash: hash,
                },
            )?;
            merchants::transition(conn, &actor, merchant.id, MerchantAction::Approve, None)?;
            let offer = offers::create(
                conn,
                &actor,
                merchant.id,
                NewOffer {
                    title: format!("英才卡专享 消费立减 {}%", rate / 100),
                    kind: OfferKind::Percent,
                    percent_bp: Some(rate),
                    amount_fen: None,
                    min_spend_fen: 0,
                    max_discount_fen: Some(cap),
                    tiers: TierSet::new(&Tier::ALL)?,
                    per_card_daily: Some(1),
                    per_card_monthly: Some(10),
                    valid_from: None,
                    valid_until: None,
                    subsidy_bp: subsidy,
                    // Every other demo merchant welcomes family cards too.
                    dependents: i % 2 == 0,
                },
                None,
            )?;
            offers::transition(conn, &actor, offer.id, offers::OfferAction::Approve, None)?;
            Ok::<_, ApiError>(merchant)
        })?;
        if i == 0 {
            logins.push((
                Role::Merchant,
                owner.as_str().to_owned(),
                owner_password,
                format!("merchant owner of {name}: cashiers, offers, settlements"),
            ));
            let cashier_password = password();
            let cashier = Username::parse("cashier1")?;
            let hash = users::hash_password(&Password::parse(&cashier_password)?)?;
            crate::db::write_tx(conn, |conn| {
                merchants::add_cashier(conn, &actor, merchant.id, &cashier, "收银员小李", hash)
            })?;
            logins.push((
                Role::Cashier,
                cashier.as_str().to_owned(),
                cashier_password,
                format!("cashier of {name}: scan and redeem"),
            ));
        }
    }
    // One application waiting for an official, so the approval queue is not empty.
    let hash = users::hash_password(&Password::parse(&password())?)?;
    crate::db::write_tx(conn, |conn| {
        merchants::apply(
            conn,
            &actor,
            NewMerchant {
                name: "安居康宁诊所".into(),
                uscc: uscc("52510904MJ6A00006")?,
                category: Category::Medical,
                district: district(1)?,
                address: "安居区柔刚街21号".into(),
                coordinates: None,
                contact_name: "王医生".into(),
                contact_phone: "0825-6660006".into(),
                bank_name: "遂州银行".into(),
                bank_account: "6222020200112200006".into(),
                owner_username: Username::parse("shop6")?,
                owner_password_hash: hash,
            },
        )
    })?;
    Ok(logins)
}
