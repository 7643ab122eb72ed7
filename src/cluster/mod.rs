pub mod quantity;
pub mod resources;
pub mod selector;
