//! A service down: what still works, and quick 503s for what cannot.

#![allow(unused_imports)]

use crate::helpers::*;
