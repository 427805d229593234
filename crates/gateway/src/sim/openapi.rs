//! The simulator API's OpenAPI 3 document, generated from the handlers' `#[utoipa::path]`
//! annotations and the types they read and answer, served at `GET /openapi.json`
//! (no credentials needed: it describes the API, it gives no access to it).
//!
//! The contract itself is `docs/sim-api.md`; the tests below hold the document to it,
//! route by route and status by status, and `tests/schemathesis.sh` holds the running
//! gateway to the document.

use std::sync::LazyLock;

use actix_web::{http::header::ContentType, HttpResponse};
use utoipa::{
    openapi::security::{Http, HttpAuthScheme, SecurityScheme},
    Modify, OpenApi,
};

use super::{error::ErrorBody, handlers};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "MiniTwit simulator API",
        description = "The course simulator's JSON API (`docs/sim-api.md`). Every route except `GET /latest` and \
`POST /register` needs the configured `Authorization` header (HTTP basic, the simulator's credentials). Every \
error is `{\"status\": N, \"error_msg\": \"...\"}`.",
    ),
    paths(
        handlers::latest,
        handlers::register,
        handlers::public,
        handlers::user_messages,
        handlers::post_message,
        handlers::follows,
        handlers::follow,
    ),
    components(schemas(
        ErrorBody,
        handlers::Latest,
        handlers::Registration,
        handlers::SimMessage,
        handlers::Tweet,
        handlers::Follows,
        handlers::FollowRequest,
    )),
    modifiers(&SimulatorAuth),
    tags((name = "simulator", description = "The routes the course's simulator drives")),
)]
pub struct SimApi;

/// The `simulator` security scheme: the exact `Authorization` value the operators set
/// (HTTP basic; the course's default is `simulator:super_safe!`).
struct SimulatorAuth;

impl Modify for SimulatorAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let mut scheme = Http::new(HttpAuthScheme::Basic);
        scheme.description =
            Some("The simulator's credentials, exactly as configured (`SIM__AUTHORIZATION`)".into());
        components.add_security_scheme("simulator", SecurityScheme::Http(scheme));
    }
}

/// The document as JSON, built once.
pub fn document() -> &'static str {
    static DOCUMENT: LazyLock<String> =
        LazyLock::new(|| SimApi::openapi().to_pretty_json().expect("the document is serialisable"));
    &DOCUMENT
}

/// `GET /openapi.json`
pub async fn serve() -> HttpResponse {
    HttpResponse::Ok().content_type(ContentType::json()).body(document())
}

#[cfg(test)]
mod tests {
    use std::collections::{BTreeMap, BTreeSet};

    use serde_json::Value;

    use super::*;

    /// The contract, checked in (a copy of the course design's `sim-api.md`).
    const CONTRACT: &str = include_str!("../../../../docs/sim-api.md");
    const README: &str = include_str!("../../../../README.md");

    /// The statuses the gateway answers where the contract is silent (`mod.rs`): a
    /// service that is down or a `latest` that could not be stored (every route), a body
    /// too large or not JSON (routes with a body). Nothing else may be added.
    const EXTRA_EVERYWHERE: &[u16] = &[503];
    const EXTRA_WITH_BODY: &[u16] = &[413, 415];

    /// `GET /msgs/{username}` and whether it takes `no`, from a contract cell such as
    /// `` `GET /msgs/<username>?no=N` ``.
    fn route(cell: &str) -> (String, bool) {
        let cell = cell.trim().trim_matches('`');
        let (route, query) = cell.split_once('?').unwrap_or((cell, ""));
        (route.replace("<username>", "{username}"), query.starts_with("no="))
    }

    /// Every three-digit status code in a table cell.
    fn statuses(cell: &str) -> BTreeSet<u16> {
        cell.split(|c: char| !c.is_ascii_digit())
            .filter(|w| w.len() == 3)
            .map(|w| w.parse().unwrap())
            .filter(|s| (100..600).contains(s))
            .collect()
    }

    /// The cells of the table rows (`| a | b |`) of `text` after the heading `heading`,
    /// up to the next heading; the header and separator rows left out.
    fn table_rows<'a>(text: &'a str, heading: &str) -> Vec<Vec<&'a str>> {
        let start = text.find(heading).unwrap_or_else(|| panic!("no {heading:?}"));
        let section = &text[start + heading.len()..];
        let section = &section[..section.find("\n#").unwrap_or(section.len())];
        section
            .lines()
            .filter(|l| l.starts_with('|') && !l.starts_with("| route") && !l.starts_with("| ---"))
            .map(|l| l.trim().trim_matches('|').split(" | ").map(str::trim).collect())
            .collect()
    }

    /// What the contract says of one route.
    #[derive(Debug, Default, PartialEq)]
    struct Line {
        statuses: BTreeSet<u16>,
        has_no: bool,
        has_body: bool,
        needs_auth: bool,
    }

    /// The contract's routes: its two tables, and the rules its prose states for all.
    fn contract() -> BTreeMap<String, Line> {
        let mut lines = BTreeMap::new();
        for row in table_rows(CONTRACT, "## `latest`") {
            let (route, has_no) = route(row[0]);
            lines.insert(route, Line { statuses: statuses(row[1]), has_no, ..Line::default() });
        }
        for row in table_rows(CONTRACT, "## Routes") {
            let (route, has_no) = route(row[0]);
            let mut all = statuses(row[2]);
            all.extend(statuses(row[3]));
            lines.insert(route, Line { statuses: all, has_no, has_body: row[1] != "–", ..Line::default() });
        }
        // The rules the prose states, each checked to still be there.
        let auth = "Every route except `GET /latest` and `POST /register` requires the header";
        assert!(CONTRACT.contains(auth), "the contract no longer says: {auth}");
        let allow_list = "a refused address also gets 403";
        assert!(CONTRACT.contains(allow_list), "the contract no longer says: {allow_list}");
        let bad_no = "`no` defaults to 100; a value that is not a non-negative integer is a 400";
        assert!(CONTRACT.contains(bad_no), "the contract no longer says: {bad_no}");
        for (route, line) in &mut lines {
            line.needs_auth = route != "GET /latest" && route != "POST /register";
            line.statuses.insert(403);
            if line.has_no {
                line.statuses.insert(400);
            }
        }
        lines
    }

    fn document_json() -> Value {
        serde_json::from_str(document()).unwrap()
    }

    /// Each operation of the document as `METHOD /path` with its object.
    fn operations(doc: &Value) -> BTreeMap<String, Value> {
        let mut ops = BTreeMap::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                ops.insert(format!("{} {path}", method.to_uppercase()), op.clone());
            }
        }
        ops
    }

    fn document_statuses(op: &Value) -> BTreeSet<u16> {
        op["responses"].as_object().unwrap().keys().map(|s| s.parse().unwrap()).collect()
    }

    fn params(op: &Value, place: &str) -> BTreeSet<String> {
        op["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == place)
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default()
    }

    #[test]
    fn the_contract_has_the_seven_routes() {
        let routes: Vec<String> = contract().into_keys().collect();
        assert_eq!(
            routes,
            [
                "GET /fllws/{username}",
                "GET /latest",
                "GET /msgs",
                "GET /msgs/{username}",
                "POST /fllws/{username}",
                "POST /msgs/{username}",
                "POST /register",
            ]
        );
        let contract = contract();
        assert_eq!(contract["POST /fllws/{username}"].statuses, BTreeSet::from([204, 400, 403, 404]));
        assert_eq!(contract["GET /latest"].statuses, BTreeSet::from([200, 403]));
        assert!(contract["GET /msgs"].has_no && !contract["GET /msgs"].has_body);
    }

    /// Every route, method and status of the contract is in the document, and the
    /// document has none the contract lacks (but the gateway's own, named above).
    #[test]
    fn the_document_has_exactly_the_contracts_routes_and_statuses() {
        let doc = document_json();
        let ops = operations(&doc);
        let contract = contract();
        assert_eq!(
            ops.keys().collect::<Vec<_>>(),
            contract.keys().collect::<Vec<_>>(),
            "the document's operations are not the contract's routes"
        );
        for (route, line) in &contract {
            let mut expected = line.statuses.clone();
            expected.extend(EXTRA_EVERYWHERE);
            if line.has_body {
                expected.extend(EXTRA_WITH_BODY);
            }
            assert_eq!(document_statuses(&ops[route]), expected, "{route}: statuses");
        }
    }

    #[test]
    fn parameters_bodies_and_security_are_the_contracts() {
        let doc = document_json();
        let ops = operations(&doc);
        for (route, line) in contract() {
            let op = &ops[&route];
            let mut query = BTreeSet::new();
            if route != "GET /latest" {
                query.insert("latest".to_string());
            }
            if line.has_no {
                query.insert("no".to_string());
            }
            assert_eq!(params(op, "query"), query, "{route}: query parameters");
            let path: BTreeSet<String> =
                route.contains("{username}").then(|| "username".to_string()).into_iter().collect();
            assert_eq!(params(op, "path"), path, "{route}: path parameters");
            assert_eq!(op["requestBody"].is_object(), line.has_body, "{route}: request body");
            if line.has_body {
                assert!(op["requestBody"]["content"]["application/json"].is_object(), "{route}");
            }
            let security = op.get("security").cloned().unwrap_or(Value::Null);
            if line.needs_auth {
                assert_eq!(security, serde_json::json!([{ "simulator": [] }]), "{route}: security");
            } else {
                assert!(security.is_null(), "{route}: needs no credentials");
            }
            for (status, response) in op["responses"].as_object().unwrap() {
                let content = &response["content"];
                if status == "204" {
                    assert!(content.is_null(), "{route}: a 204 has no body");
                } else {
                    let schema = &content["application/json"]["schema"];
                    assert!(schema.is_object(), "{route} {status}: no JSON body");
                    if status.starts_with('4') || status.starts_with('5') {
                        assert_eq!(schema["$ref"], "#/components/schemas/Error", "{route} {status}");
                    }
                }
            }
        }
        let scheme = &doc["components"]["securitySchemes"]["simulator"];
        assert_eq!((&scheme["type"], &scheme["scheme"]), (&Value::from("http"), &Value::from("basic")));
    }

    /// The answers' schemas name the fields the contract names.
    #[test]
    fn schemas_have_the_contracts_fields() {
        let doc = document_json();
        let required = |name: &str| -> BTreeSet<String> {
            let schema = &doc["components"]["schemas"][name];
            serde_json::from_value(schema["required"].clone()).unwrap_or_default()
        };
        let set = |names: &[&str]| names.iter().map(|n| n.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(required("Error"), set(&["status", "error_msg"]));
        assert_eq!(required("Latest"), set(&["latest"]));
        assert_eq!(required("SimMessage"), set(&["content", "pub_date", "user"]));
        assert_eq!(required("Follows"), set(&["follows"]));
        assert_eq!(required("Registration"), set(&["username", "email", "pwd"]));
        assert_eq!(required("Tweet"), set(&["content"]));
        // Exactly one of the two keys: one of two objects, each requiring its own.
        let one_of = doc["components"]["schemas"]["FollowRequest"]["oneOf"].as_array().unwrap();
        let keys: Vec<&Value> = one_of.iter().map(|o| &o["required"]).collect();
        assert_eq!(keys, [&serde_json::json!(["follow"]), &serde_json::json!(["unfollow"])]);
        assert_eq!(one_of[0]["properties"]["unfollow"]["type"], "null");
        assert_eq!(one_of[1]["properties"]["follow"]["type"], "null");
    }

    /// README's table of the simulator routes names the contract's routes and the
    /// document's statuses.
    #[test]
    fn the_readme_route_table_agrees() {
        let ops = operations(&document_json());
        let rows = table_rows(README, "## The simulator API");
        let readme: BTreeMap<String, BTreeSet<u16>> =
            rows.iter().map(|r| (route(r[0]).0, statuses(r[2]))).collect();
        let document: BTreeMap<String, BTreeSet<u16>> =
            ops.iter().map(|(route, op)| (route.clone(), document_statuses(op))).collect();
        assert_eq!(readme, document);
        let auth: BTreeMap<String, bool> = rows.iter().map(|r| (route(r[0]).0, r[1] == "yes")).collect();
        let contract: BTreeMap<String, bool> =
            contract().into_iter().map(|(route, line)| (route, line.needs_auth)).collect();
        assert_eq!(auth, contract);
    }

    #[actix_web::test]
    async fn the_document_is_served_as_json() {
        let res = serve().await;
        assert_eq!(res.status(), 200);
        assert_eq!(res.headers().get("content-type").unwrap(), "application/json");
        let body = actix_web::body::to_bytes(res.into_body()).await.unwrap();
        let doc: Value = serde_json::from_slice(&body).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    }
}
