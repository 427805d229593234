//! What the process measures about its database: each request's wait for a pooled
//! connection, the requests shed, the pool's connections and readiness (read at each
//! scrape), and business totals counted off the request path.

use std::{
    sync::{atomic::Ordering, Arc},
    time::Duration,
};

use super::{
    connection::{DbConnection, Manager},
    pool::{Db, Pool},
};
use crate::{metrics::Metrics, settings::DatabaseSettings, ApiError};

impl Db {
    /// The `Db` around `pool`, not ready yet, with its gauges registered.
    pub(super) fn with_pool(
        pool: Pool,
        manager: Manager,
        settings: &DatabaseSettings,
        metrics: &Metrics,
    ) -> Self {
        let db = Self {
            pool,
            manager,
            wait: metrics
                .histogram("db_pool_wait_seconds", "Time a request waited for a database connection"),
            shed: metrics.counter(
                "db_pool_shed_total",
                "Requests answered 503 overloaded at once: no database connection came free within the pool time-out",
            ),
            status: Arc::default(),
        };
        let connections =
            metrics.gauge_vec("db_pool_connections", "Database connections by state", &["state"]);
        let max = metrics.gauge("db_pool_max_connections", "Largest number of database connections");
        max.set(i64::from(settings.pool_size));
        let ready =
            metrics.gauge("db_ready", "1 once the database answered and is migrated since start-up, else 0");
        let (pool, status) = (db.pool.clone(), db.status.clone());
        metrics.on_scrape(move || {
            let state = pool.state();
            connections.with_label_values(&["idle"]).set(i64::from(state.idle_connections));
            connections
                .with_label_values(&["in_use"])
                .set(i64::from(state.connections - state.idle_connections));
            ready.set(i64::from(status.ready.load(Ordering::Acquire)));
        });
        db
    }

    /// Keeps `gauge` at what `query` counts, refreshed every `period` off the request
    /// path (business totals: never a count on every request or scrape). A failed count
    /// (the database not ready yet at start-up) is retried after a second, not a period.
    pub fn refresh_gauge_every(
        &self,
        gauge: prometheus::IntGauge,
        period: Duration,
        query: fn(&mut DbConnection) -> Result<i64, ApiError>,
    ) {
        let db = self.clone();
        tokio::spawn(async move {
            loop {
                let wait = match db.run(query).await {
                    Ok(n) => {
                        gauge.set(n);
                        period
                    }
                    Err(_) => period.min(Duration::from_secs(1)),
                };
                tokio::time::sleep(wait).await;
            }
        });
    }
}
