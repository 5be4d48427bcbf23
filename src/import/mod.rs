//! Flows from other tools, converted to our format. Pure: text in, text and notes out.

pub mod studio;
