//! Fresh databases for black-box tests: a new PostgreSQL database per test (on the
//! server named by `MINITWIT_TEST_DATABASE_URL`, default the local one on
//! 127.0.0.1:5432), or a new SQLite file in a temporary directory. Both are removed
//! when the value is dropped.

use diesel::{connection::SimpleConnection, Connection, PgConnection};

pub use crate::db::Backend;

pub const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The PostgreSQL server the tests use.
pub fn admin_url() -> String {
    std::env::var("MINITWIT_TEST_DATABASE_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_string())
}

pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    name: String,
    dir: Option<std::path::PathBuf>,
}

impl TestDatabase {
    pub fn new(backend: Backend) -> Self {
        let name = format!("mt_test_{}", uuid::Uuid::new_v4().simple());
        match backend {
            Backend::Postgres => {
                let admin = admin_url();
                let mut conn = PgConnection::establish(&admin)
                    .unwrap_or_else(|e| panic!("tests need PostgreSQL at {admin}: {e}"));
                conn.batch_execute(&format!("CREATE DATABASE {name}")).expect("create test database");
                let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(&admin);
                Self { url: format!("{base}/{name}"), backend, name, dir: None }
            }
            Backend::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                std::fs::create_dir_all(&dir).expect("create test directory");
                let url = dir.join("test.db").to_string_lossy().into_owned();
                Self { url, backend, name, dir: Some(dir) }
            }
        }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        match self.backend {
            Backend::Postgres => {
                if let Ok(mut conn) = PgConnection::establish(&admin_url()) {
                    let _ =
                        conn.batch_execute(&format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name));
                }
            }
            Backend::Sqlite => {
                if let Some(dir) = &self.dir {
                    let _ = std::fs::remove_dir_all(dir);
                }
            }
        }
    }
}

/// Declares each listed `async fn name(backend: Backend)` as two tests, one per backend:
/// `on_postgres::name` and `on_sqlite::name`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod on_postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Postgres).await
                }
            )*
        }
        mod on_sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::$name($crate::testing::Backend::Sqlite).await
                }
            )*
        }
    };
}
