use clap::Parser;

/// glibc serves large blocks with mmap and gives them back when freed, but raises that
/// threshold to the size of every such block freed. After the first login, argon2's
/// 19 MiB working memory came from the heap and stayed: 401 cashiers signing in took the
/// server to 1.7 GiB (BENCHMARKS.md). mimalloc returns what is freed.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> anyhow::Result<()> {
    talentcard::cli::run(talentcard::cli::Cli::parse())
}
