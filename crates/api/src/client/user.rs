//! user-service's calls.

use super::*;

impl UserClient {
    /// Gives the calls that hash a password ([`UserClient::register`],
    /// [`UserClient::login`]) `timeout` instead of the client's: in a burst they queue
    /// for one of user-service's hashers (one per core), which a short budget would
    /// turn into 503s of work that was about to be done.
    pub fn with_hash_timeout(mut self, timeout: Duration) -> Self {
        self.0.hash_timeout = Some(timeout);
        self
    }

    /// Not sent again after an ambiguous failure: a retry of a registration that went
    /// through would answer `username_taken`.
    pub async fn register(&self, rid: &str, new: &NewUser) -> Result<User, ClientError<UserError>> {
        let req = self.0.hashing(self.0.request(Method::POST, "/users", rid).json(new));
        self.0.json_within(req, Idempotent::No, Bound::Hasher).await
    }

    pub async fn login(&self, rid: &str, credentials: &Credentials) -> Result<User, ClientError<UserError>> {
        let req = self.0.hashing(self.0.request(Method::POST, "/users/login", rid).json(credentials));
        self.0.json_within(req, Idempotent::Yes, Bound::Hasher).await
    }

    pub async fn by_name(&self, rid: &str, username: &Username) -> Result<User, ClientError<UserError>> {
        let path = format!("/users/by-name/{}", crate::encode_segment(username.as_str()));
        self.0.json(self.0.request(Method::GET, &path, rid), Idempotent::Yes).await
    }

    pub async fn by_id(&self, rid: &str, id: UserId) -> Result<User, ClientError<UserError>> {
        self.0.json(self.0.request(Method::GET, &format!("/users/{id}"), rid), Idempotent::Yes).await
    }

    pub async fn batch(&self, rid: &str, ids: &[UserId]) -> Result<Vec<User>, ClientError<UserError>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let body = UserIds { ids: ids.to_vec() };
        self.0.json(self.0.request(Method::POST, "/users/batch", rid).json(&body), Idempotent::Yes).await
    }

    /// The current generation of the user's web sessions.
    pub async fn session(&self, rid: &str, id: UserId) -> Result<i64, ClientError<UserError>> {
        let path = format!("/users/{id}/session");
        let s: SessionGeneration =
            self.0.json(self.0.request(Method::GET, &path, rid), Idempotent::Yes).await?;
        Ok(s.generation)
    }

    /// Ends every web session of the user; returns the new generation. Safe to send
    /// again: one more generation ends the same sessions.
    pub async fn end_session(&self, rid: &str, id: UserId) -> Result<i64, ClientError<UserError>> {
        let path = format!("/users/{id}/session/end");
        let s: SessionGeneration =
            self.0.json(self.0.request(Method::POST, &path, rid), Idempotent::Yes).await?;
        Ok(s.generation)
    }

    pub async fn count(&self, rid: &str) -> Result<i64, ClientError<UserError>> {
        let c: Count = self.0.json(self.0.request(Method::GET, "/users/count", rid), Idempotent::Yes).await?;
        Ok(c.count)
    }
}
