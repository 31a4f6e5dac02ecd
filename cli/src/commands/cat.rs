//! stub
use anyhow::Result;
use clap::Args;
use crate::args::Global;
#[derive(Args, Debug)]
pub struct CatArgs {
    pub what: String,
    pub id: Option<String>,
}
pub fn run(_g: &Global, _a: &CatArgs) -> Result<u8> {
    Ok(0)
}
