//! The rules of a dunning run request, pure: which day it runs as of, and whether it only
//! previews.

use time::{Date, Duration};

use super::model::NewDunningRun;
use crate::refusal::Refusal;

/// The day a requested run is as of (default today, at most a year either way) and whether it
/// is a preview (default: when it is after today; a run after today can only be one).
pub fn requested(new: &NewDunningRun, today: Date) -> Result<(Date, bool), Refusal> {
    let as_of = new.as_of.unwrap_or(today);
    if (as_of - today).whole_days().abs() > 366 {
        return Err(Refusal::field(
            "as_of",
            "out_of_range",
            format!(
                "must be between {} and {}",
                today - Duration::days(366),
                today + Duration::days(366)
            ),
        ));
    }
    let preview = match new.preview {
        Some(false) if as_of > today => {
            return Err(Refusal::field(
                "preview",
                "future_run",
                format!("a run as of {as_of}, after today ({today}), can only be a preview"),
            ))
        }
        Some(p) => p,
        None => as_of > today,
    };
    Ok((as_of, preview))
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn fields(r: Result<(Date, bool), Refusal>) -> String {
        match r {
            Err(Refusal::Invalid(errors)) => format!("{}:{}", errors[0].field, errors[0].code),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn a_run_is_today_unless_dated_and_previews_only_the_future() {
        let today = date!(2026 - 03 - 10);
        let run = |as_of, preview| NewDunningRun { as_of, preview };
        assert_eq!(requested(&run(None, None), today), Ok((today, false)));
        assert_eq!(requested(&run(None, Some(true)), today), Ok((today, true)));
        let later = date!(2026 - 04 - 01);
        assert_eq!(requested(&run(Some(later), None), today), Ok((later, true)));
        let earlier = date!(2026 - 02 - 01);
        assert_eq!(
            requested(&run(Some(earlier), None), today),
            Ok((earlier, false))
        );
        assert_eq!(
            fields(requested(&run(Some(later), Some(false)), today)),
            "preview:future_run"
        );
        assert_eq!(
            fields(requested(&run(Some(date!(2027 - 03 - 12)), None), today)),
            "as_of:out_of_range"
        );
        assert_eq!(
            requested(&run(Some(date!(2027 - 03 - 11)), None), today),
            Ok((date!(2027 - 03 - 11), true))
        );
    }
}
