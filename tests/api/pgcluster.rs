//! A throwaway PostgreSQL server for tests that stop, kill or restart the database:
//! its own cluster (Debian's `pg_createcluster`) on a free port, removed on drop. The
//! shared local server can never be stopped by a test; this one can. A cluster can get a
//! streaming standby (`pg_basebackup`), be made to wait for it (synchronous
//! replication), be killed like a machine that died, and have its standby promoted.

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

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

fn cluster_name() -> String {
    format!("tc{}", uuid::Uuid::new_v4().simple())[..14].to_owned()
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
        let port = free_port();
        let name = cluster_name();
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

    fn data_dir(&self) -> String {
        format!("/var/lib/postgresql/{}/{}", self.version, self.name)
    }

    /// Runs one statement as the superuser and returns its output (psql's -At form).
    pub fn sql(&self, statement: &str) -> String {
        let out = Command::new("psql")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string()])
            .args(["-U", "postgres", "-d", "postgres", "-XAtq", "-c", statement])
            .output()
            .expect("psql runs");
        assert!(
            out.status.success(),
            "psql {statement}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    /// A streaming standby of this cluster on a free port, made with `pg_basebackup`
    /// (`-R` writes its `primary_conninfo` and `standby.signal`) and started.
    pub fn standby(&self) -> Cluster {
        let standby = Cluster {
            version: self.version.clone(),
            name: cluster_name(),
            port: free_port(),
        };
        let made = run(
            "pg_createcluster (standby)",
            Command::new("pg_createcluster")
                .args([
                    &standby.version,
                    &standby.name,
                    "-p",
                    &standby.port.to_string(),
                ])
                .args(["-o", "fsync=off", "--", "--auth=trust"]),
        )
        .and_then(|()| {
            // The standby's data is the primary's, copied; its configuration stays its own
            // (Debian keeps that under /etc).
            // (emptied, not removed: the directory stays the postgres user's.)
            std::fs::read_dir(standby.data_dir())
                .and_then(|entries| {
                    entries.flatten().try_for_each(|entry| {
                        if entry.file_type()?.is_dir() {
                            std::fs::remove_dir_all(entry.path())
                        } else {
                            std::fs::remove_file(entry.path())
                        }
                    })
                })
                .map_err(|e| format!("emptying the standby's data directory: {e}"))
        })
        .and_then(|()| {
            run(
                "pg_basebackup",
                Command::new("runuser")
                    .args(["-u", "postgres", "--", "pg_basebackup"])
                    .args([
                        "-h",
                        "127.0.0.1",
                        "-p",
                        &self.port.to_string(),
                        "-U",
                        "postgres",
                    ])
                    .args([
                        "-D",
                        &standby.data_dir(),
                        "-X",
                        "stream",
                        "-R",
                        "-c",
                        "fast",
                    ]),
            )
        });
        if let Err(e) = made {
            drop(standby);
            panic!("{e}");
        }
        standby.start();
        standby
    }

    /// Makes every commit wait until a standby has it (`synchronous_standby_names`),
    /// once one is streaming. Set after the base backup, so a promoted standby does
    /// not wait for a standby of its own.
    pub fn require_synchronous_standby(&self) {
        self.sql("ALTER SYSTEM SET synchronous_standby_names = '*'");
        self.sql("SELECT pg_reload_conf()");
        for _ in 0..100 {
            if self.sql("SELECT count(*) FROM pg_stat_replication WHERE sync_state = 'sync'") == "1"
            {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the standby never became synchronous");
    }

    /// SIGKILL to the postmaster and every process it started, as when the machine
    /// dies: no shutdown checkpoint, sessions cut mid-statement.
    pub fn kill(&self) {
        let pid_file = std::fs::read_to_string(format!("{}/postmaster.pid", self.data_dir()))
            .expect("the cluster runs");
        let postmaster = pid_file.lines().next().expect("a pid").trim().to_owned();
        let children = Command::new("pgrep")
            .args(["-P", &postmaster])
            .output()
            .expect("pgrep runs");
        let mut pids = vec![postmaster];
        pids.extend(
            String::from_utf8_lossy(&children.stdout)
                .split_whitespace()
                .map(str::to_owned),
        );
        run("kill -9", Command::new("kill").arg("-9").args(&pids))
            .unwrap_or_else(|e| panic!("{e}"));
    }

    /// Promotes a standby to primary and waits until it takes writes.
    pub fn promote(&self) {
        self.ctl("promote", &[]);
        for _ in 0..100 {
            if self.sql("SELECT pg_is_in_recovery()") == "f" {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
        panic!("the standby was not promoted");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = Command::new("pg_dropcluster")
            .args(["--stop", &self.version, &self.name])
            .output();
    }
}
