//! The room left in the budget as the counter's quotes see it: read at most once a
//! second for each category's envelope and the year, less what this instance's own
//! redemptions have taken since, and read again after anything else here changed the
//! budget. A quote is advice — the redemption decides, from the budget's slots
//! themselves — and summing the year's and the envelope's slots in every quote's read
//! was about a sixth of that read (BENCHMARKS.md). Another instance's redemptions show
//! within the second.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use super::Booking;
use super::left::{Left, left_for};
use crate::db::DbConnection;
use crate::error::ApiResult;

/// How old a room read may be when a quote uses it.
const FRESH: Duration = Duration::from_secs(1);

/// By category: a quote looks its room up by the merchant's category without making a
/// key; a read of another year (at the new year) replaces the entry.
#[derive(Default)]
pub struct RoomsSeen {
    seen: Mutex<HashMap<String, Seen>>,
}

struct Seen {
    year: i32,
    read_at: Instant,
    left: Option<Left>,
}

impl RoomsSeen {
    /// The room left for a subsidy of a merchant of `category` in `year` (`None`: no
    /// budget), as read within the last second.
    pub fn left(
        &self,
        conn: &mut DbConnection,
        year: i32,
        category: &str,
    ) -> ApiResult<Option<Left>> {
        if let Some(seen) = self.lock().get(category)
            && seen.year == year
            && seen.read_at.elapsed() < FRESH
        {
            return Ok(seen.left);
        }
        let left = left_for(conn, year, category)?;
        self.lock().insert(
            category.to_owned(),
            Seen {
                year,
                read_at: Instant::now(),
                left,
            },
        );
        Ok(left)
    }

    /// A redemption made here booked its subsidy: the year's room as every category saw
    /// it, and its category's envelope, shrink by it.
    pub fn took(&self, booking: &Booking<'_>) {
        if booking.amount_fen == 0 {
            return;
        }
        for (category, seen) in self.lock().iter_mut() {
            if let (true, Some(left)) = (seen.year == booking.year, seen.left.as_mut()) {
                left.year_fen -= booking.amount_fen;
                if category == booking.category
                    && let Some(envelope) = left.envelope_fen.as_mut()
                {
                    *envelope -= booking.amount_fen;
                }
            }
        }
    }

    /// The budget changed here some other way (set, a reversal, a settlement's step):
    /// the next quotes read it again.
    pub fn forget(&self) {
        self.lock().clear();
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Seen>> {
        // Each entry is whole at every moment; a panic elsewhere leaves it usable.
        self.seen.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(rooms: &RoomsSeen, year: i32, category: &str, left: Option<Left>, age: Duration) {
        rooms.lock().insert(
            category.to_owned(),
            Seen {
                year,
                read_at: Instant::now() - age,
                left,
            },
        );
    }

    fn left(year_fen: i64, envelope_fen: Option<i64>) -> Option<Left> {
        Some(Left {
            year_fen,
            envelope_fen,
        })
    }

    #[test]
    fn a_subsidy_taken_here_shrinks_the_year_everywhere_and_its_own_envelope() {
        let rooms = RoomsSeen::default();
        seen(&rooms, 2026, "food", left(1_000, Some(300)), Duration::ZERO);
        seen(
            &rooms,
            2026,
            "housing",
            left(1_000, Some(500)),
            Duration::ZERO,
        );
        // A category already read in the new year, while this sale is of the old one.
        seen(&rooms, 2027, "clothing", left(9_000, None), Duration::ZERO);
        seen(&rooms, 2026, "transport", None, Duration::ZERO);
        rooms.took(&Booking {
            year: 2026,
            period: "2026-12",
            merchant_id: 1,
            category: "food",
            amount_fen: 120,
            redemption_id: 7,
        });
        let room = |category: &str| rooms.lock()[category].left;
        assert_eq!(room("food"), left(880, Some(180)));
        assert_eq!(room("housing"), left(880, Some(500)));
        assert_eq!(room("clothing"), left(9_000, None));
        assert_eq!(room("transport"), None);
        rooms.forget();
        assert!(rooms.lock().is_empty());
    }
}
