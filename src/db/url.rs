//! `DATABASE_URL` parsing. The scheme decides the backend; anything else is an error
//! rather than a guess.

use std::fmt;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Postgres,
    Sqlite,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Postgres => "postgresql",
            Backend::Sqlite => "sqlite",
        })
    }
}

#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    raw: String,
    backend: Backend,
    sqlite_path: Option<PathBuf>,
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl DatabaseUrl {
    /// Accepts `postgres://…`, `postgresql://…`, `sqlite:///abs/path.db` and
    /// `sqlite://relative/path.db`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self {
                raw: raw.to_owned(),
                backend: Backend::Postgres,
                sqlite_path: None,
            });
        }
        if let Some(path) = raw.strip_prefix("sqlite://") {
            if path.is_empty() {
                return Err(
                    "DATABASE_URL sqlite:// needs a file path, e.g. sqlite://data/talentcard.db"
                        .into(),
                );
            }
            if path == ":memory:" {
                return Err("an in-memory SQLite database is not shared between pool connections; use a file".into());
            }
            return Ok(Self {
                raw: raw.to_owned(),
                backend: Backend::Sqlite,
                sqlite_path: Some(PathBuf::from(path)),
            });
        }
        Err(format!(
            "DATABASE_URL must start with postgres://, postgresql:// or sqlite:// (got {:?})",
            raw.split("://").next().unwrap_or_default()
        ))
    }

    /// A SQLite database file at `path`.
    pub fn sqlite(path: &Path) -> Self {
        Self {
            raw: format!("sqlite://{}", path.display()),
            backend: Backend::Sqlite,
            sqlite_path: Some(path.to_owned()),
        }
    }

    pub fn backend(&self) -> Backend {
        self.backend
    }

    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// The file path of a SQLite URL ("" for PostgreSQL).
    pub fn sqlite_path(&self) -> &str {
        self.sqlite_path
            .as_deref()
            .and_then(Path::to_str)
            .unwrap_or_default()
    }

    /// The URL with any password removed, for logs: in the user part and as a
    /// `password=` parameter. Every host of a multi-host URL stays, so a log shows which
    /// servers the pool may choose from.
    pub fn redacted(&self) -> String {
        let (Backend::Postgres, Some((scheme, rest))) = (self.backend, self.raw.split_once("://"))
        else {
            return self.raw.clone();
        };
        let (before_query, query) = match rest.split_once('?') {
            Some((before, query)) => (before, Some(query)),
            None => (rest, None),
        };
        let authority_end = before_query.find('/').unwrap_or(before_query.len());
        let (authority, path) = before_query.split_at(authority_end);
        let authority = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => {
                let user = userinfo.split(':').next().unwrap_or_default();
                format!("{user}:***@{hosts}")
            }
            None => authority.to_owned(),
        };
        let query = query.map(|query| {
            query
                .split('&')
                .map(|pair| match pair.split_once('=') {
                    Some((key, _)) if key.eq_ignore_ascii_case("password") => {
                        format!("{key}=***")
                    }
                    _ => pair.to_owned(),
                })
                .collect::<Vec<_>>()
                .join("&")
        });
        match query {
            Some(query) => format!("{scheme}://{authority}{path}?{query}"),
            None => format!("{scheme}://{authority}{path}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheme_selects_the_backend() {
        assert_eq!(
            DatabaseUrl::parse("postgres://u@h/db").unwrap().backend(),
            Backend::Postgres
        );
        assert_eq!(
            DatabaseUrl::parse("postgresql:///db").unwrap().backend(),
            Backend::Postgres
        );
        let rel = DatabaseUrl::parse("sqlite://data/rel.db").unwrap();
        assert_eq!(rel.sqlite_path(), "data/rel.db");
        let abs = DatabaseUrl::parse("sqlite:///abs/path.db").unwrap();
        assert_eq!(abs.sqlite_path(), "/abs/path.db");
    }

    #[test]
    fn typos_are_errors_not_sqlite_files() {
        assert!(DatabaseUrl::parse("postgress://u@h/db").is_err());
        assert!(DatabaseUrl::parse("data/talentcard.db").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }

    #[test]
    fn passwords_are_redacted() {
        let url = DatabaseUrl::parse("postgres://app:s3cret@db:5432/tc").unwrap();
        assert_eq!(url.redacted(), "postgres://app:***@db:5432/tc");
        assert!(!format!("{url:?}").contains("s3cret"));
    }

    #[test]
    fn a_multi_host_url_keeps_every_host_and_loses_every_password() {
        let raw = "postgres://app:s3cret@db1:5432,db2:5433,db3/tc?target_session_attrs=read-write&password=other";
        let url = DatabaseUrl::parse(raw).unwrap();
        assert_eq!(url.backend(), Backend::Postgres);
        // libpq gets the URL as written: it chooses among the hosts.
        assert_eq!(url.as_str(), raw);
        assert_eq!(
            url.redacted(),
            "postgres://app:***@db1:5432,db2:5433,db3/tc?target_session_attrs=read-write&password=***"
        );
        let socket = DatabaseUrl::parse("postgres:///tc?host=/var/run/postgresql").unwrap();
        assert_eq!(socket.redacted(), "postgres:///tc?host=/var/run/postgresql");
        let no_user = DatabaseUrl::parse("postgresql://h1,h2/tc").unwrap();
        assert_eq!(no_user.redacted(), "postgresql://h1,h2/tc");
    }
}
