//! Where channel configurations are kept between runs: the [`ChannelRepository`] trait, its SQLite
//! implementation for the server and an in-memory one for tests.
//!
//! Implementations are synchronous and may block on disk; async callers use `spawn_blocking`.
//! Nothing here reads the clock: the caller stamps `created_ms` and `updated_ms`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use rusqlite::types::ValueRef;
use rusqlite::{params, Connection, OptionalExtension, Row, TransactionBehavior};

/// A channel as stored: its project, its configuration document, and when it was created and last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredChannel {
    pub project_id: String,
    pub config: model::ChannelConfig,
    /// Unix milliseconds.
    pub created_ms: i64,
    pub updated_ms: i64,
}

/// Why the store could not be opened, read or written. A stored row that no longer parses is not
/// an error: [`ChannelRepository::load_all`] skips it and lists it in [`LoadReport::skipped`].
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// The storage engine failed; the message names the operation, the file and the engine's error.
    #[error("channel store: {0}")]
    Storage(String),
    /// The database was written by a newer Headwater whose schema this build does not know.
    #[error("channel store {path}: schema version {found} is newer than this build supports ({supported})")]
    SchemaTooNew {
        path: String,
        found: i64,
        supported: i64,
    },
}

/// Where channel configurations live. Implementations are synchronous and may block (callers use spawn_blocking);
/// they must be Send + Sync.
pub trait ChannelRepository: std::fmt::Debug + Send + Sync {
    /// Every stored channel, ordered by (created_ms, project_id, id). Rows that cannot be read back
    /// (corrupt JSON, a document the current model rejects) are skipped and reported in `LoadReport::skipped`.
    fn load_all(&self) -> Result<LoadReport, RepoError>;
    /// Inserts or replaces the channel (key: project_id + config.id).
    fn upsert(&self, channel: &StoredChannel) -> Result<(), RepoError>;
    /// Removes it; Ok(false) if there was none.
    fn delete(&self, project_id: &str, id: &str) -> Result<bool, RepoError>;
}

/// What [`ChannelRepository::load_all`] read back.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// The readable channels, ordered by (created_ms, project_id, id).
    pub channels: Vec<StoredChannel>,
    /// Rows that could not be read back: (project, id, why).
    pub skipped: Vec<(
        String, /*project*/
        String, /*id*/
        String, /*why*/
    )>,
}

/// The schema version this build writes. Opening a database runs every step of [`MIGRATIONS`]
/// from the version it records up to this one.
pub const SCHEMA_VERSION: i64 = 1;

/// `MIGRATIONS[n]` takes the schema from version `n` to `n + 1`. Steps are only ever appended.
const MIGRATIONS: [&str; SCHEMA_VERSION as usize] = [
    // 0 → 1: the channels table. STRICT makes SQLite refuse a value of the wrong type.
    "CREATE TABLE channels (
        project_id TEXT NOT NULL,
        id TEXT NOT NULL,
        config TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        updated_ms INTEGER NOT NULL,
        PRIMARY KEY (project_id, id)
    ) STRICT;",
];

/// How long a statement waits for a lock held by another connection (another process, or the
/// `sqlite3` shell) before failing.
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);

/// Channel configurations in one SQLite file (in WAL mode), one row per channel, the document as
/// the JSON `serde_json` writes for [`model::ChannelConfig`]. Every upsert and delete is its own
/// transaction, committed with `synchronous=FULL`: once it returns, it survives the process being
/// killed and the machine losing power.
#[derive(Debug)]
pub struct SqliteRepository {
    connection: Mutex<Connection>,
    /// The file, or `:memory:`; for error messages.
    location: String,
}

impl SqliteRepository {
    /// Opens (creating if needed) the database file, e.g. `{data_dir}/headwater.db`, and brings its
    /// schema up to [`SCHEMA_VERSION`]. The directory must exist.
    pub fn open(path: &Path) -> Result<SqliteRepository, RepoError> {
        let location = path.display().to_string();
        let connection = Connection::open(path)
            .map_err(|e| RepoError::Storage(format!("cannot open {location}: {e}")))?;
        SqliteRepository::prepare(connection, location, true)
    }

    /// A database that lives as long as the value; for tests.
    pub fn open_in_memory() -> Result<SqliteRepository, RepoError> {
        let location = ":memory:".to_owned();
        let connection = Connection::open_in_memory()
            .map_err(|e| RepoError::Storage(format!("cannot open {location}: {e}")))?;
        SqliteRepository::prepare(connection, location, false)
    }

    fn prepare(
        mut connection: Connection,
        location: String,
        on_disk: bool,
    ) -> Result<SqliteRepository, RepoError> {
        let fail = |what: &str, e: rusqlite::Error| {
            RepoError::Storage(format!("cannot {what} {location}: {e}"))
        };
        connection
            .busy_timeout(BUSY_TIMEOUT)
            .map_err(|e| fail("set the busy timeout of", e))?;
        if on_disk {
            let mode: String = connection
                .query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))
                .map_err(|e| fail("switch to WAL", e))?;
            if !mode.eq_ignore_ascii_case("wal") {
                return Err(RepoError::Storage(format!(
                    "cannot switch {location} to WAL: journal mode stays {mode}"
                )));
            }
        }
        // FULL: each commit syncs the WAL, so an acknowledged change survives power loss too.
        // Changes are API calls, a few per minute; the cost is measured in docs/benchmarks.md.
        connection
            .pragma_update(None, "synchronous", "FULL")
            .map_err(|e| fail("set synchronous=FULL on", e))?;
        migrate(&mut connection, &location)?;
        Ok(SqliteRepository {
            connection: Mutex::new(connection),
            location,
        })
    }

    fn connection(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave a transaction open (dropping one rolls it
        // back), so the connection is still usable.
        self.connection.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn storage_error(&self, what: &str, e: impl fmt::Display) -> RepoError {
        RepoError::Storage(format!("cannot {what} in {}: {e}", self.location))
    }
}

/// Creates the version table if needed and runs the migrations the database has not seen, all in
/// one transaction, so a crash leaves the old or the new schema.
fn migrate(connection: &mut Connection, location: &str) -> Result<(), RepoError> {
    let fail = |e: rusqlite::Error| {
        RepoError::Storage(format!("cannot migrate the schema of {location}: {e}"))
    };
    let tx = connection
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(fail)?;
    tx.execute_batch(
        "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL) STRICT;",
    )
    .map_err(fail)?;
    let found: Option<i64> = tx
        .query_row("SELECT max(version) FROM schema_version", [], |row| {
            row.get(0)
        })
        .optional()
        .map_err(fail)?
        .flatten();
    let found = found.unwrap_or(0);
    if found > SCHEMA_VERSION {
        return Err(RepoError::SchemaTooNew {
            path: location.to_owned(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found < SCHEMA_VERSION {
        let from = usize::try_from(found).map_err(|_| {
            RepoError::Storage(format!("{location}: invalid schema version {found}"))
        })?;
        for step in &MIGRATIONS[from..] {
            tx.execute_batch(step).map_err(fail)?;
        }
        tx.execute("DELETE FROM schema_version", []).map_err(fail)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [SCHEMA_VERSION],
        )
        .map_err(fail)?;
    }
    tx.commit().map_err(fail)
}

impl ChannelRepository for SqliteRepository {
    fn load_all(&self) -> Result<LoadReport, RepoError> {
        let connection = self.connection();
        let mut statement = connection
            .prepare_cached(
                "SELECT project_id, id, config, created_ms, updated_ms FROM channels
                 ORDER BY created_ms, project_id, id",
            )
            .map_err(|e| self.storage_error("read channels", e))?;
        let mut rows = statement
            .query([])
            .map_err(|e| self.storage_error("read channels", e))?;
        let mut report = LoadReport::default();
        while let Some(row) = rows
            .next()
            .map_err(|e| self.storage_error("read channels", e))?
        {
            match read_row(row) {
                Ok(channel) => report.channels.push(channel),
                Err(skipped) => report.skipped.push(skipped),
            }
        }
        Ok(report)
    }

    fn upsert(&self, channel: &StoredChannel) -> Result<(), RepoError> {
        let config = serde_json::to_string(&channel.config)
            .map_err(|e| self.storage_error("serialize channel", e))?;
        let connection = self.connection();
        connection
            .prepare_cached(
                "INSERT INTO channels (project_id, id, config, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (project_id, id) DO UPDATE SET
                     config = excluded.config,
                     created_ms = excluded.created_ms,
                     updated_ms = excluded.updated_ms",
            )
            .and_then(|mut s| {
                s.execute(params![
                    channel.project_id,
                    channel.config.id,
                    config,
                    channel.created_ms,
                    channel.updated_ms
                ])
            })
            .map_err(|e| {
                self.storage_error(
                    &format!("store channel {}/{}", channel.project_id, channel.config.id),
                    e,
                )
            })?;
        Ok(())
    }

    fn delete(&self, project_id: &str, id: &str) -> Result<bool, RepoError> {
        let connection = self.connection();
        let deleted = connection
            .prepare_cached("DELETE FROM channels WHERE project_id = ?1 AND id = ?2")
            .and_then(|mut s| s.execute(params![project_id, id]))
            .map_err(|e| self.storage_error(&format!("delete channel {project_id}/{id}"), e))?;
        Ok(deleted > 0)
    }
}

/// Reads one row of `channels`, or says why it cannot be used: (project, id, why).
fn read_row(row: &Row<'_>) -> Result<StoredChannel, (String, String, String)> {
    let text = |index: usize| match row.get_ref(index) {
        Ok(ValueRef::Text(bytes)) => String::from_utf8_lossy(bytes).into_owned(),
        Ok(other) => format!("<{:?}>", other.data_type()),
        Err(e) => format!("<{e}>"),
    };
    let project_id = text(0);
    let id = text(1);
    let skip = |why: String| (project_id.clone(), id.clone(), why);
    let json: String = row
        .get(2)
        .map_err(|e| skip(format!("unreadable config column: {e}")))?;
    let created_ms: i64 = row
        .get(3)
        .map_err(|e| skip(format!("unreadable created_ms: {e}")))?;
    let updated_ms: i64 = row
        .get(4)
        .map_err(|e| skip(format!("unreadable updated_ms: {e}")))?;
    let config = model::parse_channel(&json)
        .map_err(|e| skip(format!("stored config does not parse: {e}")))?;
    if config.id != id {
        return Err(skip(format!(
            "stored config has id {:?}, the row's key is {id:?}",
            config.id
        )));
    }
    Ok(StoredChannel {
        project_id,
        config,
        created_ms,
        updated_ms,
    })
}

/// Channels in a map, for tests of code that takes a [`ChannelRepository`]. Nothing is persisted,
/// and nothing is ever skipped.
#[derive(Debug, Default)]
pub struct MemoryRepository {
    channels: Mutex<BTreeMap<(String, String), StoredChannel>>,
}

impl MemoryRepository {
    fn channels(&self) -> MutexGuard<'_, BTreeMap<(String, String), StoredChannel>> {
        self.channels.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl ChannelRepository for MemoryRepository {
    fn load_all(&self) -> Result<LoadReport, RepoError> {
        let mut channels: Vec<StoredChannel> = self.channels().values().cloned().collect();
        // The map is ordered by (project_id, id); a stable sort by creation time gives the full order.
        channels.sort_by_key(|c| c.created_ms);
        Ok(LoadReport {
            channels,
            skipped: Vec::new(),
        })
    }

    fn upsert(&self, channel: &StoredChannel) -> Result<(), RepoError> {
        self.channels().insert(
            (channel.project_id.clone(), channel.config.id.clone()),
            channel.clone(),
        );
        Ok(())
    }

    fn delete(&self, project_id: &str, id: &str) -> Result<bool, RepoError> {
        Ok(self
            .channels()
            .remove(&(project_id.to_owned(), id.to_owned()))
            .is_some())
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader};
    use std::process::{Command, Stdio};

    use std::path::PathBuf;

    use super::*;

    const EXAMPLE: &str = include_str!("../../model/testdata/spec_example_request.json");

    fn channel(project_id: &str, id: &str, created_ms: i64, updated_ms: i64) -> StoredChannel {
        let mut config = model::parse_channel(EXAMPLE).expect("the spec example parses");
        config.id = id.to_owned();
        StoredChannel {
            project_id: project_id.to_owned(),
            config,
            created_ms,
            updated_ms,
        }
    }

    fn keys(report: &LoadReport) -> Vec<(String, String)> {
        report
            .channels
            .iter()
            .map(|c| (c.project_id.clone(), c.config.id.clone()))
            .collect()
    }

    fn temp_db() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("headwater.db");
        (dir, path)
    }

    // Test bodies shared by every implementation.

    fn round_trip(repo: &impl ChannelRepository) {
        assert!(repo.load_all().expect("load").channels.is_empty());
        let a = channel("p1", "a", 1_000, 1_000);
        let mut b = channel("p1", "b", 2_000, 2_000);
        b.config.name = Some("second".to_owned());
        repo.upsert(&a).expect("upsert a");
        repo.upsert(&b).expect("upsert b");
        let report = repo.load_all().expect("load");
        assert!(report.skipped.is_empty(), "{:?}", report.skipped);
        assert_eq!(report.channels, vec![a.clone(), b.clone()]);

        assert!(repo.delete("p1", "a").expect("delete a"));
        assert!(!repo.delete("p1", "a").expect("delete a again"));
        assert!(!repo.delete("p2", "b").expect("b of another project"));
        assert_eq!(repo.load_all().expect("load").channels, vec![b]);
    }

    fn replace_keeps_created(repo: &impl ChannelRepository) {
        let first = channel("p", "c", 1_000, 1_000);
        repo.upsert(&first).expect("insert");
        let mut changed = channel("p", "c", 1_000, 5_000);
        changed.config.name = Some("renamed".to_owned());
        changed.config.state = model::ChannelState::On;
        repo.upsert(&changed).expect("replace");
        let report = repo.load_all().expect("load");
        assert_eq!(report.channels, vec![changed]);
        assert_eq!(report.channels[0].created_ms, 1_000);
        assert_eq!(report.channels[0].updated_ms, 5_000);
    }

    fn ordering(repo: &impl ChannelRepository) {
        // Inserted out of order; read back by creation time, then project, then id.
        for (project, id, created) in [
            ("p2", "x", 300),
            ("p1", "z", 100),
            ("p2", "a", 100),
            ("p1", "b", 200),
            ("p1", "a", 100),
        ] {
            repo.upsert(&channel(project, id, created, created))
                .expect("upsert");
        }
        let report = repo.load_all().expect("load");
        let expected = [
            ("p1", "a"),
            ("p1", "z"),
            ("p2", "a"),
            ("p1", "b"),
            ("p2", "x"),
        ];
        assert_eq!(
            keys(&report),
            expected.map(|(p, i)| (p.to_owned(), i.to_owned()))
        );
        // The same id in two projects is two channels.
        repo.upsert(&channel("p3", "a", 50, 50)).expect("upsert");
        assert_eq!(repo.load_all().expect("load").channels.len(), 6);
    }

    #[test]
    fn memory_round_trip() {
        round_trip(&MemoryRepository::default());
    }

    #[test]
    fn memory_replace_keeps_created() {
        replace_keeps_created(&MemoryRepository::default());
    }

    #[test]
    fn memory_ordering() {
        ordering(&MemoryRepository::default());
    }

    #[test]
    fn sqlite_round_trip() {
        let (_dir, path) = temp_db();
        round_trip(&SqliteRepository::open(&path).expect("open"));
    }

    #[test]
    fn sqlite_replace_keeps_created() {
        let (_dir, path) = temp_db();
        replace_keeps_created(&SqliteRepository::open(&path).expect("open"));
    }

    #[test]
    fn sqlite_ordering() {
        let (_dir, path) = temp_db();
        ordering(&SqliteRepository::open(&path).expect("open"));
    }

    #[test]
    fn sqlite_in_memory_round_trip() {
        round_trip(&SqliteRepository::open_in_memory().expect("open"));
    }

    #[test]
    fn stored_json_is_the_serde_form() {
        let repo = SqliteRepository::open_in_memory().expect("open");
        let c = channel("p", "json", 1, 2);
        repo.upsert(&c).expect("upsert");
        let stored: String = repo
            .connection()
            .query_row(
                "SELECT config FROM channels WHERE project_id = 'p' AND id = 'json'",
                [],
                |row| row.get(0),
            )
            .expect("row");
        assert_eq!(stored, serde_json::to_string(&c.config).expect("serialize"));
    }

    #[test]
    fn corrupt_rows_are_skipped_and_reported() {
        let (_dir, path) = temp_db();
        let repo = SqliteRepository::open(&path).expect("open");
        repo.upsert(&channel("p", "good", 10, 10)).expect("upsert");
        let wrong_id = serde_json::to_string(&channel("p", "other", 0, 0).config).expect("json");
        {
            let conn = repo.connection();
            conn.execute(
                "INSERT INTO channels VALUES ('p', 'broken', '{\"domain\": ', 1, 1)",
                [],
            )
            .expect("insert bad JSON");
            conn.execute(
                "INSERT INTO channels VALUES ('p', 'unknown-field', '{\"colour\": \"red\"}', 2, 2)",
                [],
            )
            .expect("insert rejected document");
            conn.execute(
                "INSERT INTO channels VALUES ('p', 'mismatch', ?1, 3, 3)",
                [&wrong_id],
            )
            .expect("insert document with another id");
        }
        let report = repo.load_all().expect("load despite corrupt rows");
        assert_eq!(keys(&report), [("p".to_owned(), "good".to_owned())]);
        let skipped: Vec<(&str, &str)> = report
            .skipped
            .iter()
            .map(|(p, i, _)| (p.as_str(), i.as_str()))
            .collect();
        assert_eq!(
            skipped,
            [("p", "broken"), ("p", "unknown-field"), ("p", "mismatch")]
        );
        let why: Vec<&str> = report.skipped.iter().map(|s| s.2.as_str()).collect();
        assert!(why[0].contains("does not parse"), "{}", why[0]);
        assert!(why[1].contains("colour"), "{}", why[1]);
        assert!(why[2].contains("\"other\""), "{}", why[2]);
    }

    #[test]
    fn reopen_after_drop_keeps_data() {
        let (_dir, path) = temp_db();
        let a = channel("p", "a", 1, 1);
        let b = channel("p", "b", 2, 3);
        {
            let repo = SqliteRepository::open(&path).expect("open");
            repo.upsert(&a).expect("upsert");
            repo.upsert(&b).expect("upsert");
            repo.delete("p", "a").expect("delete");
        }
        let repo = SqliteRepository::open(&path).expect("reopen");
        assert_eq!(repo.load_all().expect("load").channels, vec![b]);
        let version: i64 = repo
            .connection()
            .query_row("SELECT version FROM schema_version", [], |row| row.get(0))
            .expect("version row");
        assert_eq!(version, SCHEMA_VERSION);
    }

    #[test]
    fn newer_schema_is_refused() {
        let (_dir, path) = temp_db();
        drop(SqliteRepository::open(&path).expect("open"));
        {
            let conn = Connection::open(&path).expect("raw open");
            conn.execute("UPDATE schema_version SET version = 99", [])
                .expect("bump version");
        }
        match SqliteRepository::open(&path) {
            Err(RepoError::SchemaTooNew {
                found, supported, ..
            }) => assert_eq!((found, supported), (99, SCHEMA_VERSION)),
            other => panic!("expected SchemaTooNew, got {other:?}"),
        }
    }

    #[test]
    fn a_file_that_is_not_a_database_is_an_error() {
        let (_dir, path) = temp_db();
        std::fs::write(&path, b"this is not an SQLite database, just some text").expect("write");
        let err = SqliteRepository::open(&path).expect_err("must not open");
        assert!(matches!(err, RepoError::Storage(_)), "{err:?}");
        assert!(err.to_string().contains("headwater.db"), "{err}");
    }

    const KILL9_DB: &str = "HEADWATER_REPO_KILL9_DB";
    const COMMITTED: &str = "repo-kill9-child: committed";

    /// Run by `committed_upsert_survives_kill_9` in a child process: commits one upsert, says so,
    /// then waits (connection open, WAL not checkpointed) to be killed.
    #[test]
    #[ignore = "helper process for committed_upsert_survives_kill_9; does nothing on its own"]
    fn kill9_child() {
        let Some(path) = std::env::var_os(KILL9_DB) else {
            return;
        };
        let repo = SqliteRepository::open(Path::new(&path)).expect("child open");
        repo.upsert(&channel("p", "survivor", 7, 8))
            .expect("child upsert");
        println!("{COMMITTED}");
        std::thread::sleep(Duration::from_secs(60));
        panic!("the parent test should have killed this process");
    }

    #[test]
    fn committed_upsert_survives_kill_9() {
        let (_dir, path) = temp_db();
        let exe = std::env::current_exe().expect("test binary path");
        let mut child = Command::new(exe)
            .args([
                "repo::tests::kill9_child",
                "--exact",
                "--ignored",
                "--nocapture",
            ])
            .env(KILL9_DB, &path)
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn child");
        let stdout = child.stdout.take().expect("child stdout");
        let committed = BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
            .any(|line| line.contains(COMMITTED));
        // SIGKILL on Unix: no destructors, no WAL checkpoint.
        child.kill().expect("kill child");
        let status = child.wait().expect("reap child");
        assert!(committed, "child never committed (exit: {status})");
        assert!(!status.success());
        // The change is only in the WAL: reopening has to recover it from there.
        let mut wal = path.clone().into_os_string();
        wal.push("-wal");
        let wal_len = std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0);
        assert!(wal_len > 0, "no WAL left by the killed process");

        let repo = SqliteRepository::open(&path).expect("reopen after kill");
        assert_eq!(
            repo.load_all().expect("load").channels,
            vec![channel("p", "survivor", 7, 8)]
        );
    }
}
