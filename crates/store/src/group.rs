//! Group commit for the embedded store: one writer thread owns the only write connection;
//! concurrent writes queue up and are committed together, with one fsync per group. A write is
//! acknowledged only after the group's COMMIT returned. A write that refuses does so before it
//! writes anything, so the others are not affected; a database error rolls the whole group back
//! and its writes are then run one by one, each in its own transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Mutex;

use crate::driver::{Conn, DbError};
use crate::StoreError;

/// Largest number of writes committed together.
const MAX_GROUP: usize = 64;

static COMMITS: AtomicU64 = AtomicU64::new(0);
static GROUPED_WRITES: AtomicU64 = AtomicU64::new(0);

/// (group commits, writes in them) since the process started: their ratio is the mean group
/// size, which says how well concurrent writes share a commit (`/metrics`).
pub fn commit_stats() -> (u64, u64) {
    (
        COMMITS.load(Ordering::Relaxed),
        GROUPED_WRITES.load(Ordering::Relaxed),
    )
}

/// How a queued write went.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Ran {
    Done,
    /// Refused before writing anything (e.g. a Bundle-ID of another patient).
    Refused,
    /// A database error: the group is rolled back and its writes are re-run one by one.
    Failed,
}

/// A queued write: runs inside the group's transaction, answers after the commit. A write
/// that refuses must do so before it writes anything.
pub trait Job: Send {
    fn run(&mut self, c: &mut dyn Conn) -> Ran;
    /// Delivers the result once the group's commit is known.
    fn deliver(self: Box<Self>, commit: Result<(), DbError>);
}

struct Typed<T, F> {
    f: F,
    result: Option<Result<T, StoreError>>,
    /// The result, and the write itself: what it owns (a parsed submission) is freed by the
    /// caller, not by the writer thread.
    reply: Sender<(Result<T, StoreError>, F)>,
}

impl<T, F> Job for Typed<T, F>
where
    T: Send,
    F: FnMut(&mut dyn Conn) -> Result<T, StoreError> + Send,
{
    fn run(&mut self, c: &mut dyn Conn) -> Ran {
        let r = (self.f)(c);
        let ran = match &r {
            Ok(_) => Ran::Done,
            Err(StoreError::Db(_)) => Ran::Failed,
            Err(_) => Ran::Refused,
        };
        self.result = Some(r);
        ran
    }
    fn deliver(self: Box<Self>, commit: Result<(), DbError>) {
        let r = match (commit, self.result) {
            (Ok(()), Some(r)) => r,
            (Err(_), Some(Err(own))) => Err(own),
            (Err(e), _) => Err(StoreError::Db(e)),
            (Ok(()), None) => Err(StoreError::Db(DbError::Other("write not run".into()))),
        };
        let _ = self.reply.send((r, self.f));
    }
}

pub struct GroupWriter {
    queue: Mutex<Sender<Box<dyn Job>>>,
}

impl GroupWriter {
    /// Starts the writer thread on `conn`.
    pub fn start(conn: Box<dyn Conn>) -> GroupWriter {
        let (tx, rx) = channel::<Box<dyn Job>>();
        std::thread::Builder::new()
            .name("clins-store-writer".into())
            .spawn(move || writer_loop(conn, rx))
            .expect("spawn the store writer thread");
        GroupWriter {
            queue: Mutex::new(tx),
        }
    }

    /// Queues `f` and waits for its committed result.
    pub fn write<T, F>(&self, f: F) -> Result<T, StoreError>
    where
        T: Send + 'static,
        F: FnMut(&mut dyn Conn) -> Result<T, StoreError> + Send + 'static,
    {
        let (reply, answer) = channel();
        let job = Box::new(Typed {
            f,
            result: None,
            reply,
        });
        let sent = self
            .queue
            .lock()
            .map_err(|_| StoreError::Db(DbError::Other("writer queue poisoned".into())))?
            .send(job);
        if sent.is_err() {
            return Err(StoreError::Db(DbError::Other(
                "the writer thread stopped".into(),
            )));
        }
        match answer.recv() {
            Ok((r, f)) => {
                drop(f);
                r
            }
            Err(_) => Err(StoreError::Db(DbError::Other(
                "the writer thread stopped".into(),
            ))),
        }
    }
}

fn writer_loop(mut conn: Box<dyn Conn>, rx: Receiver<Box<dyn Job>>) {
    while let Ok(first) = rx.recv() {
        let mut group = vec![first];
        while group.len() < MAX_GROUP {
            match rx.try_recv() {
                Ok(j) => group.push(j),
                Err(_) => break,
            }
        }
        let c = conn.as_mut();
        let together = (|| -> Result<bool, DbError> {
            c.batch("BEGIN IMMEDIATE")?;
            for job in group.iter_mut() {
                if job.run(c) == Ran::Failed {
                    return Ok(false);
                }
            }
            c.batch("COMMIT")?;
            Ok(true)
        })();
        if let Ok(true) = together {
            COMMITS.fetch_add(1, Ordering::Relaxed);
            GROUPED_WRITES.fetch_add(group.len() as u64, Ordering::Relaxed);
            for job in group {
                job.deliver(Ok(()));
            }
            continue;
        }
        // Something failed: nothing of the group is kept; each write gets its own transaction.
        let _ = c.batch("ROLLBACK");
        for mut job in group {
            let alone = (|| -> Result<(), DbError> {
                c.batch("BEGIN IMMEDIATE")?;
                if job.run(c) == Ran::Failed {
                    return Err(DbError::Other("write failed".into()));
                }
                c.batch("COMMIT")
            })();
            if alone.is_err() {
                let _ = c.batch("ROLLBACK");
            }
            // A failed write's own error is in its result; the commit error otherwise.
            job.deliver(match alone {
                Ok(()) => Ok(()),
                Err(e) => Err(e),
            });
        }
    }
}
