//! Prometheus metrics of one process: HTTP requests by route pattern, method and status,
//! in-flight requests, process figures, and whatever the service registers itself.
//! Every series carries the const label `service`, so one query covers all processes.

use std::sync::{Arc, Mutex};

use prometheus::{
    Encoder, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts,
    Registry, TextEncoder,
};

/// Latency buckets that resolve 1 ms to 1 s; 0.3 s is the simulator's time-out.
pub const LATENCY_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 1.0, 2.5];

/// The `method` label of a request: the standard method names as they are, any other
/// name as `OTHER`, so a client inventing methods (`FOO`, `BAR`, …) cannot make series
/// that are never freed.
pub fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::OPTIONS => "OPTIONS",
        Method::CONNECT => "CONNECT",
        Method::TRACE => "TRACE",
        _ => "OTHER",
    }
}

type ScrapeHook = Box<dyn Fn() + Send + Sync>;

#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    pub requests: IntCounterVec,
    pub duration: HistogramVec,
    pub in_flight: IntGauge,
    hooks: Arc<Mutex<Vec<ScrapeHook>>>,
}

impl Metrics {
    pub fn new(service: &str) -> Self {
        let labels = [("service".to_string(), service.to_string())].into_iter().collect();
        let registry = Registry::new_custom(None, Some(labels)).expect("valid registry labels");
        #[cfg(target_os = "linux")]
        registry
            .register(Box::new(prometheus::process_collector::ProcessCollector::for_self()))
            .expect("process collector registers once");
        let m = Self {
            requests: IntCounterVec::new(
                Opts::new("http_requests_total", "HTTP requests answered, by route pattern and status"),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            duration: HistogramVec::new(
                HistogramOpts::new("http_request_duration_seconds", "Time to answer an HTTP request")
                    .buckets(LATENCY_BUCKETS.to_vec()),
                &["method", "route", "status"],
            )
            .expect("valid metric"),
            in_flight: IntGauge::new("http_requests_in_flight", "HTTP requests being answered now")
                .expect("valid metric"),
            registry,
            hooks: Arc::default(),
        };
        m.register(m.requests.clone());
        m.register(m.duration.clone());
        m.register(m.in_flight.clone());
        m
    }

    fn register<C: prometheus::core::Collector + 'static>(&self, c: C) {
        self.registry.register(Box::new(c)).expect("metric registered once");
    }

    pub fn counter(&self, name: &str, help: &str) -> IntCounter {
        let c = IntCounter::new(name, help).expect("valid metric");
        self.register(c.clone());
        c
    }

    pub fn counter_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
        let c = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
        self.register(c.clone());
        c
    }

    pub fn gauge(&self, name: &str, help: &str) -> IntGauge {
        let g = IntGauge::new(name, help).expect("valid metric");
        self.register(g.clone());
        g
    }

    pub fn gauge_vec(&self, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
        let g = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
        self.register(g.clone());
        g
    }

    pub fn histogram(&self, name: &str, help: &str) -> Histogram {
        let h = Histogram::with_opts(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()))
            .expect("valid metric");
        self.register(h.clone());
        h
    }

    pub fn histogram_vec(&self, name: &str, help: &str, labels: &[&str]) -> HistogramVec {
        let h = HistogramVec::new(HistogramOpts::new(name, help).buckets(LATENCY_BUCKETS.to_vec()), labels)
            .expect("valid metric");
        self.register(h.clone());
        h
    }

    /// Runs `hook` before every scrape, to refresh gauges read from elsewhere (pool state).
    pub fn on_scrape(&self, hook: impl Fn() + Send + Sync + 'static) {
        self.hooks.lock().expect("hooks lock").push(Box::new(hook));
    }

    /// The text exposition format of everything registered.
    pub fn render(&self) -> String {
        for hook in self.hooks.lock().expect("hooks lock").iter() {
            hook();
        }
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf).expect("text encoding never fails");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_series_carries_the_service_label() {
        let m = Metrics::new("user-service");
        m.requests.with_label_values(&["GET", "/users/{id}", "200"]).inc();
        let text = m.render();
        let line = text.lines().find(|l| l.starts_with("http_requests_total{")).expect("series present");
        for part in
            [r#"method="GET""#, r#"route="/users/{id}""#, r#"status="200""#, r#"service="user-service""#]
        {
            assert!(line.contains(part), "{line}");
        }
        assert!(line.ends_with(" 1"), "{line}");
    }

    #[test]
    fn unknown_methods_share_one_label() {
        use actix_web::http::Method;
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        assert_eq!(method_label(&Method::from_bytes(b"FOO").unwrap()), "OTHER");
        assert_eq!(method_label(&Method::from_bytes(b"get").unwrap()), "OTHER");
    }

    #[test]
    fn scrape_hooks_run_before_rendering() {
        let m = Metrics::new("s");
        let g = m.gauge("answer", "test gauge");
        let g2 = g.clone();
        m.on_scrape(move || g2.set(42));
        assert!(m.render().contains("answer{service=\"s\"} 42"));
    }
}
