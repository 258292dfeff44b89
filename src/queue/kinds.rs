//! External kinds in Redis: one hash of declarations for the whole deployment and a
//! version counter moved by every change, so each process notices a change with one
//! cheap read a second and re-reads the hash only then.

use super::{Queue, QueueError};

impl Queue {
    /// The version of the external kinds (moved by every change).
    pub async fn kinds_version(&self) -> Result<u64, QueueError> {
        let key = self.keys.kinds_version();
        let version: Option<u64> = self
            .redis
            .read(|mut c| async move { redis::cmd("GET").arg(key).query_async(&mut c).await })
            .await?;
        Ok(version.unwrap_or(0))
    }

    /// Every declaration (kind → JSON) and the version they were read at.
    pub async fn external_kinds(&self) -> Result<(u64, Vec<(String, String)>), QueueError> {
        let (kinds, version) = (self.keys.kinds(), self.keys.kinds_version());
        let (all, version): (Vec<(String, String)>, Option<u64>) = self
            .redis
            .read(|mut c| async move {
                redis::pipe()
                    .cmd("HGETALL")
                    .arg(kinds)
                    .cmd("GET")
                    .arg(version)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok((version.unwrap_or(0), all))
    }

    /// Stores the declaration of `kind`; true when it is new.
    pub async fn put_kind(&self, kind: &str, declaration: &str) -> Result<bool, QueueError> {
        let (kinds, version) = (self.keys.kinds(), self.keys.kinds_version());
        let (created, _): (u64, u64) = self
            .redis
            .call(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("HSET")
                    .arg(kinds)
                    .arg(kind)
                    .arg(declaration)
                    .cmd("INCR")
                    .arg(version)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(created == 1)
    }

    /// Removes the declaration of `kind`; false when there was none.
    pub async fn delete_kind(&self, kind: &str) -> Result<bool, QueueError> {
        let (kinds, version) = (self.keys.kinds(), self.keys.kinds_version());
        let (removed, _): (u64, u64) = self
            .redis
            .call(|mut c| async move {
                redis::pipe()
                    .atomic()
                    .cmd("HDEL")
                    .arg(kinds)
                    .arg(kind)
                    .cmd("INCR")
                    .arg(version)
                    .query_async(&mut c)
                    .await
            })
            .await?;
        Ok(removed == 1)
    }

    /// How many external kinds are declared.
    pub async fn count_kinds(&self) -> Result<u64, QueueError> {
        let key = self.keys.kinds();
        self.redis
            .read(|mut c| async move { redis::cmd("HLEN").arg(key).query_async(&mut c).await })
            .await
    }
}
