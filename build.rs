// `embed_migrations!` reads the migrations directory when it expands; without this a
// migration added since the last build would be left out of an incremental build.
fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
