//! What the URL of a request carries: the simulator's `latest` and `no` query
//! parameters and its username path segment, and the web UI's `?before=` cursor. A
//! value read is the value written back; anything else is a 400, never a panic.
#![no_main]

use gateway::inputs::{self, PathUser, WebError};
use libfuzzer_sys::fuzz_target;
use minitwit_api::domain::Username;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};

fuzz_target!(|data: &[u8]| {
    let query = String::from_utf8_lossy(data);
    let query = query.as_ref();

    if let Some(latest) = inputs::sim_latest(query) {
        assert_eq!(inputs::sim_latest(&format!("latest={latest}")), Some(latest));
    }

    let max = u32::from(data.first().copied().unwrap_or(0)) * 8;
    match inputs::sim_no(query, max) {
        Ok(no) => {
            assert!(no <= max, "{query:?}: {no} > {max}");
            assert_eq!(inputs::sim_no(&format!("no={no}"), max).unwrap(), no);
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{query:?}: {e:?}"),
    }

    match inputs::sim_path_user(query) {
        Ok(PathUser::Name(name)) => {
            assert!(!name.is_reserved());
            let path = format!("/msgs/{}", utf8_percent_encode(name.as_str(), NON_ALPHANUMERIC));
            assert_eq!(inputs::sim_path_user(&path).unwrap(), PathUser::Name(name));
        }
        Ok(PathUser::Impossible(raw)) => {
            assert!(Username::parse(&raw).map_or(true, |n| n.is_reserved()), "{raw:?} is possible");
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{query:?}: {e:?}"),
    }

    match inputs::timeline_query(query) {
        Ok(Some(cursor)) => {
            assert_eq!(inputs::timeline_query(&format!("before={cursor}")).unwrap(), Some(cursor));
        }
        Ok(None) => {}
        Err(WebError::BadRequest(why)) => assert!(!why.is_empty()),
        Err(e) => panic!("{query:?}: {e:?} is not a 400"),
    }
});
