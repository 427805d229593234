//! The simulator's scenario files (crates/simulator/src/scenario.rs): a file read is
//! written back and read again to the same actions; a refused one names a line of it.
#![no_main]

use libfuzzer_sys::fuzz_target;
use minitwit_sim::scenario::{self, Action};

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    match scenario::parse(&text) {
        Ok(actions) => {
            let mut written = Vec::new();
            scenario::write(&actions, &mut written).unwrap();
            let written = String::from_utf8(written).unwrap();
            assert_eq!(written.lines().count(), actions.len(), "one line per action");
            assert_eq!(scenario::parse(&written).unwrap(), actions);
            for action in &actions {
                assert_eq!(&Action::parse_line(&action.to_line()).unwrap(), action);
            }
        }
        Err(e) => {
            assert!(e.line >= 1 && e.line <= text.split('\n').count(), "line {} of {text:?}", e.line);
            assert!(!e.message.is_empty());
        }
    }
});
