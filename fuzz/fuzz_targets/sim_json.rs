//! The simulator API's JSON bodies (`POST /register`, `/msgs/{username}`,
//! `/fllws/{username}`), read and checked as their handlers do: what is accepted is
//! accepted again when written back as JSON; anything else is a 400, never a panic.
#![no_main]

use gateway::inputs;
use libfuzzer_sys::fuzz_target;
use serde_json::json;

fuzz_target!(|body: &[u8]| {
    match inputs::sim_register(body) {
        Ok(new) => {
            let again = json!({
                "username": new.username.as_str(),
                "email": new.email.as_str(),
                "pwd": new.password.expose(),
            });
            let again = inputs::sim_register(again.to_string().as_bytes()).expect("accepted again");
            assert_eq!(
                (again.username, again.email, again.password),
                (new.username, new.email, new.password)
            );
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{e:?}"),
    }

    match inputs::sim_tweet(body) {
        Ok(text) => {
            let again = json!({ "content": text.as_str() }).to_string();
            assert_eq!(inputs::sim_tweet(again.as_bytes()).expect("accepted again"), text);
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{e:?}"),
    }

    match inputs::sim_follow(body) {
        Ok((follow, target)) => {
            let mut again = serde_json::Map::new();
            again.insert(if follow { "follow" } else { "unfollow" }.into(), target.clone().into());
            let again = serde_json::Value::Object(again).to_string();
            assert_eq!(inputs::sim_follow(again.as_bytes()).expect("accepted again"), (follow, target));
        }
        Err(e) => assert_eq!(e.status.as_u16(), 400, "{e:?}"),
    }
});
