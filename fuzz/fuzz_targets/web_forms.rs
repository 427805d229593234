//! The web UI's form bodies (`POST /login`, `/register`, `/add_message`), read as
//! actix-web's `Form` reads them and checked as their handlers do: what is accepted is
//! accepted again when sent back as a form; a body that is no form is a 400 page.
#![no_main]

use gateway::inputs::{self, WebError};
use libfuzzer_sys::fuzz_target;
use minitwit_api::domain::DomainError;

fn unreadable(e: WebError) {
    match e {
        WebError::BadRequest(why) => assert!(why.starts_with("The form could not be read"), "{why}"),
        e => panic!("{e:?} is not a 400"),
    }
}

fn encode(fields: &[(&str, &str)]) -> String {
    serde_urlencoded::to_string(fields).unwrap()
}

fuzz_target!(|body: &[u8]| {
    match inputs::login_form(body) {
        Ok(Some(c)) => {
            let again = encode(&[("username", c.username.as_str()), ("password", c.password.expose())]);
            let again = inputs::login_form(again.as_bytes()).unwrap().expect("valid again");
            assert_eq!((again.username, again.password), (c.username, c.password));
        }
        Ok(None) => {}
        Err(e) => unreadable(e),
    }

    match (inputs::register_form(body, false), inputs::register_form(body, true)) {
        (Ok(plain), Ok(policy)) => {
            if policy.is_ok() {
                assert!(plain.is_ok(), "the policy only adds rules");
            }
            match plain {
                Ok(new) => {
                    assert!(!new.username.is_reserved());
                    let pwd = new.password.expose();
                    let again = encode(&[
                        ("username", new.username.as_str()),
                        ("email", new.email.as_str()),
                        ("password", pwd),
                        ("password2", pwd),
                    ]);
                    let again = inputs::register_form(again.as_bytes(), false).unwrap().expect("valid again");
                    assert_eq!(
                        (again.username, again.email, again.password),
                        (new.username, new.email, new.password)
                    );
                }
                Err(text) => assert!(!text.is_empty()),
            }
        }
        (Err(a), Err(b)) => {
            unreadable(a);
            unreadable(b);
        }
        (a, b) => panic!("the policy changed whether the form reads: {a:?} / {b:?}"),
    }

    match inputs::message_form(body) {
        Ok(Ok(text)) => {
            let again = encode(&[("text", text.as_str())]);
            assert_eq!(inputs::message_form(again.as_bytes()).unwrap().unwrap(), text);
        }
        Ok(Err(e)) => assert_eq!(e.code(), DomainError::TextEmpty.code()),
        Err(e) => unreadable(e),
    }
});
