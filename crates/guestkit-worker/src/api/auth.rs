//! Bearer tokens and per-token rate limits of the API.
//!
//! Tokens come from a file (`ROLE TOKEN` a line, `#` comments) and/or a
//! list (`ROLE:TOKEN,ROLE:TOKEN`, from `GUESTKIT_API_TOKENS`). Roles:
//! `read` (GET) and `submit` (POST and DELETE; implies read). Only the
//! SHA-256 of each token is kept, and a presented token is compared with
//! every one of them in constant time, so neither the time taken nor an
//! early exit tells how much of a guess was right.

use std::collections::HashMap;
use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::body::Body;
use axum::extract::State;
use axum::http::{header::AUTHORIZATION, HeaderMap, Method, Request, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};

use super::error::ApiError;
use super::ApiState;

/// Shortest token accepted: a guessable token is no protection.
pub const MIN_TOKEN_LEN: usize = 16;

/// What a token may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// GET: jobs, results, events, capabilities.
    Read,
    /// POST and DELETE as well: submit and cancel jobs.
    Submit,
}

impl Role {
    fn parse(name: &str) -> Option<Role> {
        match name {
            "read" => Some(Role::Read),
            "submit" => Some(Role::Submit),
            _ => None,
        }
    }

    /// Whether a token of this role may do what `need` asks.
    pub fn allows(self, need: Role) -> bool {
        self >= need
    }
}

/// The tokens the API accepts.
#[derive(Debug, Default)]
pub struct Tokens {
    /// SHA-256 of each token, with its role.
    entries: Vec<([u8; 32], Role)>,
}

fn digest(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

/// Equality of two digests that takes the same time wherever they differ.
fn same_digest(a: &[u8; 32], b: &[u8; 32]) -> bool {
    let diff = a
        .iter()
        .zip(b.iter())
        .fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

impl Tokens {
    /// Adds one token; `source` names where it came from in errors.
    fn add(&mut self, role: &str, token: &str, source: &str) -> Result<(), String> {
        let role = Role::parse(role)
            .ok_or_else(|| format!("{source}: unknown role {role:?} (roles: read, submit)"))?;
        if token.chars().count() < MIN_TOKEN_LEN {
            return Err(format!(
                "{source}: a {role:?} token is shorter than {MIN_TOKEN_LEN} characters"
            ));
        }
        if token.chars().any(|c| c.is_whitespace() || c == ',') {
            return Err(format!("{source}: a token contains white space or a comma"));
        }
        self.entries.push((digest(token), role));
        Ok(())
    }

    /// Reads a tokens file: one `ROLE TOKEN` a line; blank lines and
    /// lines starting with `#` are skipped.
    pub fn add_file_text(&mut self, text: &str, file: &Path) -> Result<(), String> {
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let source = format!("{} line {}", file.display(), n.saturating_add(1));
            let mut parts = line.split_whitespace();
            match (parts.next(), parts.next(), parts.next()) {
                (Some(role), Some(token), None) => self.add(role, token, &source)?,
                _ => return Err(format!("{source}: expected `ROLE TOKEN`")),
            }
        }
        Ok(())
    }

    /// Reads `ROLE:TOKEN,ROLE:TOKEN`.
    pub fn add_list(&mut self, list: &str) -> Result<(), String> {
        for (n, item) in list.split(',').enumerate() {
            let item = item.trim();
            if item.is_empty() {
                continue;
            }
            let source = format!("GUESTKIT_API_TOKENS item {}", n.saturating_add(1));
            let (role, token) = item
                .split_once(':')
                .ok_or_else(|| format!("{source}: expected ROLE:TOKEN"))?;
            self.add(role.trim(), token.trim(), &source)?;
        }
        Ok(())
    }

    /// The tokens of a file and/or a list.
    pub fn load(file: Option<&Path>, list: Option<&str>) -> Result<Tokens, String> {
        let mut tokens = Tokens::default();
        if let Some(path) = file {
            let text = std::fs::read_to_string(path)
                .map_err(|e| format!("API tokens file {}: {e}", path.display()))?;
            tokens.add_file_text(&text, path)?;
        }
        if let Some(list) = list {
            tokens.add_list(list)?;
        }
        Ok(tokens)
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when no token is configured.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The token's index (its rate-limit key) and role; every entry is
    /// compared, whatever matches first.
    pub fn authenticate(&self, presented: &str) -> Option<(usize, Role)> {
        let d = digest(presented);
        let mut found = None;
        for (i, (known, role)) in self.entries.iter().enumerate() {
            if same_digest(known, &d) && found.is_none() {
                found = Some((i, *role));
            }
        }
        found
    }
}

/// A token bucket per key: `rate` tokens a second, at most `burst`.
#[derive(Debug)]
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<usize, (f64, Instant)>>,
}

/// The rate-limit key of requests made without a token (insecure mode).
pub const ANONYMOUS: usize = usize::MAX;

impl RateLimiter {
    /// `rate` requests a second (0: unlimited), bursts of `burst`.
    pub fn new(rate: f64, burst: u32) -> Self {
        RateLimiter {
            rate,
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: usize, now: Instant) -> Result<(), Duration> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let Ok(mut buckets) = self.buckets.lock() else {
            return Ok(());
        };
        let (tokens, last) = buckets.entry(key).or_insert((self.burst, now));
        let elapsed = now.saturating_duration_since(*last).as_secs_f64();
        *tokens = (*tokens + elapsed * self.rate).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - *tokens) / self.rate))
        }
    }
}

/// The token of an `Authorization: Bearer …` header.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

/// Middleware of the protected routes: GET and HEAD need a read token,
/// anything else a submit token; then the token's rate limit.
pub async fn authorize(State(state): State<ApiState>, req: Request<Body>, next: Next) -> Response {
    let need = if matches!(*req.method(), Method::GET | Method::HEAD) {
        Role::Read
    } else {
        Role::Submit
    };
    let key = if state.tokens().is_empty() {
        ANONYMOUS
    } else {
        let Some(token) = bearer(req.headers()) else {
            return ApiError::new(
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing bearer token (Authorization: Bearer <token>)",
            )
            .into_response();
        };
        let Some((key, role)) = state.tokens().authenticate(token) else {
            return ApiError::new(StatusCode::UNAUTHORIZED, "unauthorized", "unknown token")
                .into_response();
        };
        if !role.allows(need) {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                "forbidden",
                format!(
                    "a read token cannot {} {}: a submit token is needed",
                    req.method(),
                    req.uri().path()
                ),
            )
            .into_response();
        }
        key
    };
    if let Err(wait) = state.limiter().check(key, Instant::now()) {
        let secs = wait.as_secs_f64().ceil().max(1.0) as u64;
        let mut e = ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            format!("too many requests for this token; retry in {secs} s"),
        );
        e.retry_after = Some(secs);
        return e.into_response();
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_from_a_file_and_a_list() {
        let mut t = Tokens::default();
        t.add_file_text(
            "# comment\n\nread rrrrrrrrrrrrrrrrrrrr\nsubmit ssssssssssssssssssss\n",
            Path::new("tokens"),
        )
        .expect("file");
        t.add_list("read:aaaaaaaaaaaaaaaaaaaa, submit:bbbbbbbbbbbbbbbbbbbb")
            .expect("list");
        assert_eq!(t.len(), 4);
        assert_eq!(
            t.authenticate("rrrrrrrrrrrrrrrrrrrr"),
            Some((0, Role::Read))
        );
        assert_eq!(
            t.authenticate("bbbbbbbbbbbbbbbbbbbb"),
            Some((3, Role::Submit))
        );
        assert_eq!(t.authenticate("rrrrrrrrrrrrrrrrrrr"), None);
        assert_eq!(t.authenticate(""), None);
        assert!(Role::Submit.allows(Role::Read));
        assert!(!Role::Read.allows(Role::Submit));
        let e = t
            .add_file_text("admin xxxxxxxxxxxxxxxxxxxxxxxx\n", Path::new("f"))
            .expect_err("role");
        assert!(e.contains("f line 1") && e.contains("admin"), "{e}");
        let e = t.add_list("read:short").expect_err("short");
        assert!(e.contains("shorter"), "{e}");
        let e = t
            .add_file_text("read a b\n", Path::new("f"))
            .expect_err("three words");
        assert!(e.contains("ROLE TOKEN"), "{e}");
    }

    #[test]
    fn buckets_refill_at_the_rate() {
        let l = RateLimiter::new(2.0, 2);
        let t0 = Instant::now();
        assert!(l.check(1, t0).is_ok());
        assert!(l.check(1, t0).is_ok());
        let wait = l.check(1, t0).expect_err("empty");
        assert!(wait <= Duration::from_millis(500), "{wait:?}");
        // Another token has its own bucket.
        assert!(l.check(2, t0).is_ok());
        assert!(l.check(1, t0 + Duration::from_millis(600)).is_ok());
        assert!(RateLimiter::new(0.0, 1).check(1, t0).is_ok());
    }

    #[test]
    fn bearer_headers() {
        let mut h = HeaderMap::new();
        assert_eq!(bearer(&h), None);
        h.insert(AUTHORIZATION, "bearer  abc ".parse().expect("value"));
        assert_eq!(bearer(&h), Some("abc"));
        h.insert(AUTHORIZATION, "Basic abc".parse().expect("value"));
        assert_eq!(bearer(&h), None);
    }
}
