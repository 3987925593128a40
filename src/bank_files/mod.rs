//! Bank files: what banks send of the cash that came in and went back (BAI2 so far), read
//! strictly into transactions for cash application.

pub mod bai2;
