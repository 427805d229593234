//! Throttling the sign-in and sign-up forms per client address (`governor`'s keyed
//! GCRA limiter), so no one can script guesses of passwords or sign-ups that make the
//! services hash argon2 at will. The client address is the one the simulator's
//! allow-list uses ([`crate::sim::auth::client_address`]); addresses on an explicit
//! allow-list (the simulator, the course's tests) are exempt. Over the limit: 429 with
//! `Retry-After`.

use std::{net::IpAddr, num::NonZeroU32, sync::Arc};

use actix_web::{
    body::{EitherBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::Method,
    middleware::Next,
    web,
};
use governor::{clock::Clock, DefaultKeyedRateLimiter, Quota};

use super::error::WebError;
use crate::{
    settings::WebSettings,
    sim::auth::{client_ip, AllowList},
};

/// Addresses remembered before the limiter forgets those that are back to a full burst.
const KEYS_BEFORE_CLEANUP: usize = 10_000;

#[derive(Clone)]
pub struct FormThrottle {
    limiter: Arc<DefaultKeyedRateLimiter<IpAddr>>,
    exempt: AllowList,
}

impl FormThrottle {
    /// The throttle the settings ask for; `None` when it is off.
    pub fn new(settings: &WebSettings, allow_list: &[String]) -> anyhow::Result<Option<Self>> {
        let Some(per_minute) = NonZeroU32::new(settings.form_throttle_per_minute) else {
            return Ok(None);
        };
        let burst = NonZeroU32::new(settings.form_throttle_burst)
            .ok_or_else(|| anyhow::anyhow!("web.form_throttle_burst must be at least 1"))?;
        let exempt = match AllowList::parse(allow_list).map_err(|e| anyhow::anyhow!("sim.allow_list: {e}"))? {
            AllowList::Everyone => AllowList::Only(Vec::new()), // `*` exempts no one
            only => only,
        };
        let limiter =
            Arc::new(DefaultKeyedRateLimiter::keyed(Quota::per_minute(per_minute).allow_burst(burst)));
        Ok(Some(Self { limiter, exempt }))
    }

    /// `Ok`, or the whole seconds `ip` must wait.
    pub fn check(&self, ip: IpAddr) -> Result<(), u64> {
        if self.exempt.allows(Some(&ip.to_string())) {
            return Ok(());
        }
        if self.limiter.len() > KEYS_BEFORE_CLEANUP {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&ip).map_err(|not_until| {
            let wait = not_until.wait_time_from(governor::clock::DefaultClock::default().now());
            wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
        })
    }
}

/// Counts each form post (not the GET of the form) against its address.
pub async fn limit_forms(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    if req.method() == Method::POST {
        let throttle =
            req.app_data::<web::Data<Option<FormThrottle>>>().and_then(|t| t.as_ref().as_ref().cloned());
        if let (Some(throttle), Some(ip)) = (throttle, client_ip(req.request())) {
            if let Err(wait) = throttle.check(ip) {
                return Ok(req.error_response(WebError::TooManyRequests(wait)).map_into_right_body());
            }
        }
    }
    Ok(next.call(req).await?.map_into_left_body())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(per_minute: u32, burst: u32) -> WebSettings {
        WebSettings {
            form_throttle_per_minute: per_minute,
            form_throttle_burst: burst,
            ..WebSettings::default()
        }
    }

    #[test]
    fn a_burst_then_a_wait_per_address_and_listed_addresses_exempt() {
        let t = FormThrottle::new(&settings(6, 2), &["10.0.0.0/8".into()]).unwrap().unwrap();
        let (a, b, listed) =
            ("192.0.2.1".parse().unwrap(), "192.0.2.2".parse().unwrap(), "10.1.2.3".parse().unwrap());
        assert_eq!((t.check(a), t.check(a)), (Ok(()), Ok(())));
        let wait = t.check(a).unwrap_err();
        assert!((1..=10).contains(&wait), "{wait}");
        assert_eq!(t.check(b), Ok(()));
        assert!((0..100).all(|_| t.check(listed).is_ok()));
    }

    #[test]
    fn on_by_default_off_at_zero_and_star_exempts_no_one() {
        // The default lets a burst of 30 through from one address (the course's tests
        // post about 20 forms at full speed), then refuses.
        let t = FormThrottle::new(&WebSettings::default(), &[]).unwrap().unwrap();
        let a = "192.0.2.9".parse().unwrap();
        assert!((0..30).all(|_| t.check(a).is_ok()));
        assert!(t.check(a).is_err());
        assert!(FormThrottle::new(&settings(0, 10), &[]).unwrap().is_none());
        let t = FormThrottle::new(&settings(1, 1), &["*".into()]).unwrap().unwrap();
        let a = "192.0.2.1".parse().unwrap();
        assert_eq!(t.check(a), Ok(()));
        assert!(t.check(a).is_err());
        assert!(FormThrottle::new(&settings(1, 0), &[]).is_err());
    }
}
