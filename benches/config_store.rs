//! Channel configuration store: SQLite (`server::repo::SqliteRepository`, as the server uses it)
//! against redb (a minimal store of the same shape, below), side by side in one run:
//!
//! - `open_load_1000`: open the file and read back 1,000 channels (parsed, in the repository's
//!   order), as a start-up does; `parse_only_1000` is the JSON parsing part alone.
//! - `upsert_durable`: replace one channel in that store with a commit that has reached the disk
//!   (SQLite `synchronous=FULL`, redb `Durability::Immediate`); `sqlite_wal_normal` is the same
//!   SQL with `synchronous=NORMAL` (survives a process crash, not a power loss).
//! - file sizes after 1,000 single-channel commits, printed to stdout.
//!
//! The documents are `crates/model/testdata/spec_example_request.json` with the id varied.
//! Run with `cargo bench -p server --bench config_store`; results go in `docs/benchmarks.md`.

use std::hint::black_box;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use model::ChannelConfig;
use redb::{Database, ReadableTable, TableDefinition};
use server::repo::{ChannelRepository, SqliteRepository, StoredChannel};

const EXAMPLE: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../model/testdata/spec_example_request.json"
));
const CHANNELS: usize = 1_000;
const PROJECT: &str = "bench-project";

fn channels() -> Vec<StoredChannel> {
    let base = model::parse_channel(EXAMPLE).expect("the spec example parses");
    (0..CHANNELS)
        .map(|i| {
            let mut config = base.clone();
            config.id = format!("channel-{i:04}");
            let ms = 1_700_000_000_000 + i as i64;
            StoredChannel {
                project_id: PROJECT.to_owned(),
                config,
                created_ms: ms,
                updated_ms: ms,
            }
        })
        .collect()
}

/// The redb counterpart of `SqliteRepository`: key `"{project}\0{id}"`, value
/// `(created_ms, updated_ms, json)`, one durable write transaction per change.
#[derive(Debug)]
struct RedbStore {
    db: Database,
}

const REDB_CHANNELS: TableDefinition<&str, (i64, i64, &str)> = TableDefinition::new("channels");

impl RedbStore {
    /// Opens (creating if needed) the file; only writes when it has no table yet, as the SQLite
    /// repository only migrates a new file.
    fn open(path: &Path) -> RedbStore {
        let db = Database::create(path).expect("redb open");
        let exists = {
            let txn = db.begin_read().expect("redb read");
            txn.open_table(REDB_CHANNELS).is_ok()
        };
        if !exists {
            let txn = db.begin_write().expect("redb begin");
            txn.open_table(REDB_CHANNELS).expect("redb table");
            txn.commit().expect("redb commit");
        }
        RedbStore { db }
    }

    fn load_all(&self) -> Vec<StoredChannel> {
        let txn = self.db.begin_read().expect("redb read");
        let table = txn.open_table(REDB_CHANNELS).expect("redb table");
        let mut out = Vec::new();
        for entry in table.iter().expect("redb iter") {
            let (key, value) = entry.expect("redb entry");
            let (project_id, _id) = key.value().split_once('\0').expect("key shape");
            let (created_ms, updated_ms, json) = value.value();
            let config = model::parse_channel(json).expect("stored JSON parses");
            out.push(StoredChannel {
                project_id: project_id.to_owned(),
                config,
                created_ms,
                updated_ms,
            });
        }
        out.sort_by(|a, b| {
            (a.created_ms, &a.project_id, &a.config.id).cmp(&(
                b.created_ms,
                &b.project_id,
                &b.config.id,
            ))
        });
        out
    }

    fn upsert(&self, channel: &StoredChannel) {
        let key = format!("{}\0{}", channel.project_id, channel.config.id);
        let json = serde_json::to_string(&channel.config).expect("serialize");
        let txn = self.db.begin_write().expect("redb begin");
        {
            let mut table = txn.open_table(REDB_CHANNELS).expect("redb table");
            table
                .insert(
                    key.as_str(),
                    (channel.created_ms, channel.updated_ms, json.as_str()),
                )
                .expect("redb insert");
        }
        txn.commit().expect("redb commit");
    }
}

/// Bytes of `path` plus those of its `-wal` and `-shm` companions, if any: the larger of the
/// length and the blocks allocated.
fn size_on_disk(path: &Path) -> (u64, u64) {
    let len = |p: PathBuf| {
        std::fs::metadata(p)
            .map(|m| m.len().max(m.blocks() * 512))
            .unwrap_or(0)
    };
    let mut side = 0;
    for suffix in ["-wal", "-shm"] {
        let mut name = path.as_os_str().to_owned();
        name.push(suffix);
        side += len(PathBuf::from(name));
    }
    (len(path.to_owned()), side)
}

fn config_store(c: &mut Criterion) {
    let dir = tempfile::tempdir().expect("temp dir");
    let sqlite_path = dir.path().join("headwater.db");
    let redb_path = dir.path().join("headwater.redb");
    let channels = channels();
    let json: Vec<String> = channels
        .iter()
        .map(|c| serde_json::to_string(&c.config).expect("serialize"))
        .collect();
    let json_bytes: usize = json.iter().map(String::len).sum();

    // Each channel in its own commit, as the API creates them.
    {
        let repo = SqliteRepository::open(&sqlite_path).expect("sqlite open");
        for channel in &channels {
            repo.upsert(channel).expect("sqlite upsert");
        }
        let (main, side) = size_on_disk(&sqlite_path);
        println!("size sqlite open: {main} B + {side} B -wal/-shm");
        let redb = RedbStore::open(&redb_path);
        for channel in &channels {
            redb.upsert(channel);
        }
    }
    let (sqlite_main, sqlite_side) = size_on_disk(&sqlite_path);
    let (redb_main, _) = size_on_disk(&redb_path);
    println!(
        "size after {CHANNELS} commits, closed: sqlite {sqlite_main} B (+{sqlite_side} B -wal/-shm), \
         redb {redb_main} B, JSON alone {json_bytes} B"
    );

    let mut group = c.benchmark_group("config_store");
    group
        .sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(4));

    group.bench_function("open_load_1000/sqlite", |b| {
        b.iter(|| {
            let repo = SqliteRepository::open(&sqlite_path).expect("sqlite open");
            let report = repo.load_all().expect("sqlite load");
            assert_eq!(report.channels.len(), CHANNELS);
            black_box(report)
        })
    });
    group.bench_function("open_load_1000/redb", |b| {
        b.iter(|| {
            let store = RedbStore::open(&redb_path);
            let loaded = store.load_all();
            assert_eq!(loaded.len(), CHANNELS);
            black_box(loaded)
        })
    });
    group.bench_function("open_load_1000/parse_only", |b| {
        b.iter(|| {
            let parsed: Vec<ChannelConfig> = json
                .iter()
                .map(|j| model::parse_channel(j).expect("parse"))
                .collect();
            black_box(parsed)
        })
    });

    let mut changed = channels[CHANNELS / 2].clone();
    let mut version = 0_i64;
    let mut bump = |changed: &mut StoredChannel| {
        version += 1;
        changed.updated_ms += 1;
        changed.config.name = Some(format!("renamed {version}"));
    };
    {
        let repo = SqliteRepository::open(&sqlite_path).expect("sqlite open");
        group.bench_function("upsert_durable/sqlite_wal_full", |b| {
            b.iter(|| {
                bump(&mut changed);
                repo.upsert(&changed).expect("sqlite upsert");
            })
        });
    }
    {
        let store = RedbStore::open(&redb_path);
        group.bench_function("upsert_durable/redb_immediate", |b| {
            b.iter(|| {
                bump(&mut changed);
                store.upsert(&changed);
            })
        });
    }
    {
        // The repository's statement with the weaker setting, on the same file.
        let conn = rusqlite::Connection::open(&sqlite_path).expect("sqlite open");
        conn.pragma_update(None, "synchronous", "NORMAL")
            .expect("synchronous=NORMAL");
        group.bench_function("upsert_durable/sqlite_wal_normal", |b| {
            b.iter(|| {
                bump(&mut changed);
                let json = serde_json::to_string(&changed.config).expect("serialize");
                conn.prepare_cached(
                    "INSERT INTO channels (project_id, id, config, created_ms, updated_ms)
                     VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (project_id, id) DO UPDATE SET
                         config = excluded.config,
                         created_ms = excluded.created_ms,
                         updated_ms = excluded.updated_ms",
                )
                .and_then(|mut s| {
                    s.execute(rusqlite::params![
                        changed.project_id,
                        changed.config.id,
                        json,
                        changed.created_ms,
                        changed.updated_ms
                    ])
                })
                .expect("sqlite upsert");
            })
        });
    }
    group.finish();

    let (sqlite_main, sqlite_side) = size_on_disk(&sqlite_path);
    let (redb_main, _) = size_on_disk(&redb_path);
    println!(
        "size after the upsert runs, closed: sqlite {sqlite_main} B (+{sqlite_side} B -wal/-shm), \
         redb {redb_main} B"
    );
}

criterion_group!(benches, config_store);
criterion_main!(benches);
