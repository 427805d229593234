//! The web UI over HTTP.

#![allow(unused_imports)]

use crate::helpers::*;
