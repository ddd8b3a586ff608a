use clap::Parser;

fn main() -> anyhow::Result<()> {
    talentcard::cli::run(talentcard::cli::Cli::parse())
}
