pub mod cluster;
pub mod scenario;
pub mod sim;
