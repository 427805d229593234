//! Register, sign in, sign out. Form errors are shown on the form as
//! `Error: <text>` with the original MiniTwit's texts, checked in its order.

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use minitwit_api::{
    domain::{Email, Password, Username},
    user::{Credentials, NewUser, UserError},
};
use minitwit_kit::server::RequestId;
use serde::Deserialize;

use super::{error::WebError, password_policy, redirect, render::Page, session::Visitor};
use crate::AppState;

/// Form re-rendered with an error: the input could not be processed as sent.
const FORM_ERROR: StatusCode = StatusCode::UNPROCESSABLE_ENTITY;

#[derive(Debug, Default, Deserialize)]
pub struct LoginForm {
    #[serde(default)]
    pub(crate) username: String,
    #[serde(default)]
    pub(crate) password: String,
}

/// `GET /login`
pub async fn login_form(visitor: Visitor) -> Result<HttpResponse, WebError> {
    if visitor.user.is_some() {
        return Ok(redirect(StatusCode::FOUND, "/"));
    }
    Ok(Page::new("login.html")
        .with("current", "login")
        .with("username", "")
        .with("error", &None::<&str>)
        .render(&visitor)?)
}

/// `POST /login`
pub async fn login(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    form: web::Form<LoginForm>,
) -> Result<HttpResponse, WebError> {
    if visitor.user.is_some() {
        return Ok(redirect(StatusCode::SEE_OTHER, "/"));
    }
    let form = form.into_inner();
    let refusal = match credentials(&state, &rid, &form).await? {
        Err(refusal) => refusal,
        Ok(credentials) => match state.upstream.for_request(&rid).login(&credentials).await {
            Ok(user) => match state.upstream.for_request(&rid).session_generation(user.id).await? {
                Some(generation) => {
                    visitor.sign_in(&user, generation);
                    visitor.flash("You were logged in");
                    return Ok(redirect(StatusCode::SEE_OTHER, "/"));
                }
                None => UserError::NoSuchUser, // gone since the password was checked
            },
            Err(e) => match e.refusal() {
                Some(refusal @ (UserError::NoSuchUser | UserError::WrongPassword)) => refusal,
                _ => return Err(e.into()),
            },
        },
    };
    let error = refusal.to_string();
    Ok(Page::new("login.html")
        .status(FORM_ERROR)
        .with("current", "login")
        .with("username", &form.username)
        .with("error", &error)
        .render(&visitor)?)
}

/// The form's name and password, or the original's answer when no account can have
/// them: an unknown user, then a wrong password (checked in that order, as it did).
async fn credentials(
    state: &AppState,
    rid: &RequestId,
    form: &LoginForm,
) -> Result<Result<Credentials, UserError>, WebError> {
    let Ok(username) = Username::parse(&form.username) else {
        return Ok(Err(UserError::NoSuchUser));
    };
    match Password::parse(&form.password) {
        Ok(password) => Ok(Ok(Credentials { username, password })),
        Err(_) => match state.upstream.for_request(rid).user_by_name(&username).await? {
            Some(_) => Ok(Err(UserError::WrongPassword)),
            None => Ok(Err(UserError::NoSuchUser)),
        },
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct RegisterForm {
    #[serde(default)]
    username: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password2: String,
}

fn register_page(state: &AppState, form: &RegisterForm, error: Option<&str>) -> Page {
    let hint = state.settings.web.password_policy.then_some(password_policy::HINT);
    Page::new("register.html")
        .with("current", "register")
        .with("username", &form.username)
        .with("email", &form.email)
        .with("error", &error)
        .with("password_hint", &hint)
}

/// `GET /register`
pub async fn register_form(state: web::Data<AppState>, visitor: Visitor) -> Result<HttpResponse, WebError> {
    if visitor.user.is_some() {
        return Ok(redirect(StatusCode::FOUND, "/"));
    }
    Ok(register_page(&state, &RegisterForm::default(), None).render(&visitor)?)
}

/// The form's error, in the original's order: username, email, password, repeated
/// password (then the optional policy); a taken name is found out by user-service last.
pub(crate) fn validate(form: &RegisterForm, policy: bool) -> Result<NewUser, String> {
    let username = Username::parse(&form.username).map_err(|e| e.to_string())?;
    let email = Email::parse(&form.email).map_err(|e| e.to_string())?;
    let password = Password::parse(&form.password).map_err(|e| e.to_string())?;
    if form.password != form.password2 {
        return Err("The two passwords do not match".into());
    }
    if policy {
        password_policy::check(password.expose(), &form.username, email.as_str())?;
    }
    // A reserved name counts as taken, which the original reported last.
    if username.is_reserved() {
        return Err(UserError::UsernameTaken.to_string());
    }
    Ok(NewUser { username, email, password })
}

/// `POST /register` (form content types only: the simulator's JSON `POST /register`
/// is the sim API's).
pub async fn register(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    form: web::Form<RegisterForm>,
) -> Result<HttpResponse, WebError> {
    if visitor.user.is_some() {
        return Ok(redirect(StatusCode::SEE_OTHER, "/"));
    }
    let form = form.into_inner();
    let error = match validate(&form, state.settings.web.password_policy) {
        Err(error) => error,
        Ok(new) => match state.upstream.for_request(&rid).register(&new).await {
            Ok(_) => {
                visitor.flash("You were successfully registered and can login now");
                return Ok(redirect(StatusCode::SEE_OTHER, "/login"));
            }
            Err(e) => match e.refusal() {
                Some(refusal @ (UserError::UsernameTaken | UserError::Invalid(_))) => refusal.to_string(),
                _ => return Err(e.into()),
            },
        },
    };
    Ok(register_page(&state, &form, Some(&error)).status(FORM_ERROR).render(&visitor)?)
}

/// `GET /logout` (the legacy link) and `POST /logout` (the page's button). Ends every
/// session of the user, so no copy of the cookie opens anything afterwards.
pub async fn logout(
    state: web::Data<AppState>,
    visitor: Visitor,
    rid: RequestId,
    req: HttpRequest,
) -> Result<HttpResponse, WebError> {
    let user = visitor.user.clone();
    visitor.sign_out();
    if let Some(user) = user {
        state.upstream.for_request(&rid).end_sessions(user.id).await?;
    }
    visitor.flash("You were logged out");
    let status =
        if req.method() == actix_web::http::Method::POST { StatusCode::SEE_OTHER } else { StatusCode::FOUND };
    Ok(redirect(status, "/public"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form(username: &str, email: &str, password: &str, password2: &str) -> RegisterForm {
        RegisterForm {
            username: username.into(),
            email: email.into(),
            password: password.into(),
            password2: password2.into(),
        }
    }

    #[test]
    fn register_errors_come_in_the_originals_order() {
        let err = |f: RegisterForm| validate(&f, false).unwrap_err();
        assert_eq!(err(form("", "", "", "x")), "You have to enter a username");
        assert_eq!(err(form("u", "bad", "", "x")), "You have to enter a valid email address");
        assert_eq!(err(form("u", "u@x", "", "x")), "You have to enter a password");
        assert_eq!(err(form("u", "u@x", "a", "b")), "The two passwords do not match");
        assert_eq!(err(form("public", "u@x", "a", "a")), "The username is already taken");
        assert_eq!(err(form("public", "bad", "a", "a")), "You have to enter a valid email address");
        assert!(validate(&form("u", "test@test", "default", "default"), false).is_ok());
    }

    #[test]
    fn the_policy_comes_after_the_originals_checks() {
        let err = |f: RegisterForm| validate(&f, true).unwrap_err();
        assert_eq!(err(form("u", "u@x", "a", "b")), "The two passwords do not match");
        assert_eq!(
            err(form("u", "u@x", "default", "default")),
            "The password must have at least 12 characters"
        );
        assert!(validate(&form("u", "u@x", "violet lamp rain", "violet lamp rain"), true).is_ok());
    }
}
