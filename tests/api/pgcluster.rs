//! A throwaway PostgreSQL server for tests that stop, kill or restart the database:
//! its own cluster (Debian's `pg_createcluster`) on a free port, removed on drop. The
//! shared local server can never be stopped by a test; this one can.

use std::net::TcpListener;
use std::process::Command;

/// One cluster, created and started by [`Cluster::create`], dropped with its data.
pub struct Cluster {
    version: String,
    name: String,
    pub port: u16,
}

fn ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

fn run(what: &str, command: &mut Command) -> Result<(), String> {
    let out = command
        .output()
        .map_err(|e| format!("{what}: cannot run: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{what}: {}\n{}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

impl Cluster {
    /// `None` (after a notice) where clusters cannot be made (no postgresql-common, not
    /// root) outside CI; under `CI=true` that is a failure.
    pub fn create(purpose: &str) -> Option<Cluster> {
        let version = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .and_then(|dir| {
                dir.filter_map(|e| e.ok()?.file_name().into_string().ok())
                    .filter(|v| v.parse::<u32>().is_ok())
                    .max_by_key(|v| v.parse::<u32>().unwrap_or(0))
            });
        let usable = version.is_some()
            && Command::new("id")
                .arg("-u")
                .output()
                .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
        let Some(version) = version.filter(|_| usable) else {
            assert!(
                !ci(),
                "CI=true but a throwaway PostgreSQL cluster cannot be made (needs postgresql-common and root)"
            );
            eprintln!(
                "NOTICE: cannot create a throwaway PostgreSQL cluster (needs pg_createcluster as root); {purpose} skipped."
            );
            return None;
        };
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let name = format!("tc{}", uuid::Uuid::new_v4().simple())[..14].to_owned();
        let cluster = Cluster {
            version,
            name,
            port,
        };
        let created = run(
            "pg_createcluster",
            Command::new("pg_createcluster")
                .args([&cluster.version, &cluster.name, "-p", &port.to_string()])
                .args(["-o", "fsync=off"])
                .args(["--start", "--", "--auth=trust"]),
        );
        if let Err(e) = created {
            // Drop removes whatever half of it exists.
            drop(cluster);
            panic!("{e}");
        }
        Some(cluster)
    }

    /// A URL for the cluster's `postgres` database as its superuser, over TCP.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn ctl(&self, action: &str, extra: &[&str]) {
        run(
            &format!("pg_ctlcluster {action}"),
            Command::new("pg_ctlcluster")
                .args([
                    "--skip-systemctl-redirect",
                    &self.version,
                    &self.name,
                    action,
                ])
                .args(extra),
        )
        .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Stops the server the way an operator does (`-m fast`: sessions are ended).
    pub fn stop(&self) {
        self.ctl("stop", &["-m", "fast"]);
    }

    pub fn start(&self) {
        self.ctl("start", &[]);
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}
