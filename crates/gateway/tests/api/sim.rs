//! The simulator API through the gateway.

#![allow(unused_imports)]

use crate::helpers::*;
