# shellcheck shell=bash
# shellcheck disable=SC2154 # $out and $rc: set by run (tests/deploy/lib.sh)
# deploy/scripts/push.sh against a fake `docker` that knows the local images listed
# in $FAKE/images, logs tag and push, and answers a push as the registry does
# (a digest), or fails it for a reference listed in $FAKE/refuse.

fake_registry() {
  cat >"$FAKE/bin/docker" <<'DOCKER'
#!/usr/bin/env bash
state="$(dirname "$0")/.."
echo "$*" >>"$state/calls"
case "$1 $2" in
  "image inspect") grep -qxF -- "${!#}" "$state/images" ;;
  tag\ *) echo "$3" >>"$state/images" ;;
  push\ *)
    if grep -qxF -- "$2" "$state/refuse" 2>/dev/null; then
      echo "denied: requested access to the resource is denied" >&2; exit 1
    fi
    echo "${2##*:}: digest: sha256:$(printf '%s' "$2" | sha256sum | cut -c1-64) size: 1234" ;;
  *) echo "fake docker: unexpected $*" >&2; exit 3 ;;
esac
DOCKER
  chmod +x "$FAKE/bin/docker"
  printf '%s\n' "$@" >"$FAKE/images"
  : >"$FAKE/calls"
}
push_calls() { grep '^push ' "$FAKE/calls" || true; }

push_tags_and_pushes_every_image_and_prints_digests() {
  fake_registry local/gateway:1.4.0 local/backup:1.4.0
  run "$SCRIPTS/push.sh" --registry reg.test:5000/mt --source local --tag 1.4.0 --also-tag sha-abc1234 gateway backup
  expect_status "$rc" 0
  expect_count "$out" "@sha256:" 4
  expect_in "$out" "reg.test:5000/mt/gateway:1.4.0@sha256:"
  expect_in "$out" "reg.test:5000/mt/backup:sha-abc1234@sha256:"
  [ "$(push_calls)" = "push reg.test:5000/mt/gateway:1.4.0
push reg.test:5000/mt/gateway:sha-abc1234
push reg.test:5000/mt/backup:1.4.0
push reg.test:5000/mt/backup:sha-abc1234" ] || fail "pushed: $(push_calls)"
}
register push_tags_and_pushes_every_image_and_prints_digests

push_defaults_to_the_five_images_of_a_release() {
  fake_registry ghcr.io/o/gateway:2 ghcr.io/o/user-service:2 ghcr.io/o/message-service:2 \
    ghcr.io/o/follow-service:2 ghcr.io/o/backup:2
  run "$SCRIPTS/push.sh" --registry ghcr.io/o --tag 2
  expect_status "$rc" 0
  expect_count "$(push_calls)" "push ghcr.io/o/" 5
  # the source is the registry prefix: nothing to tag
  expect_not_in "$(cat "$FAKE/calls")" "tag "
}
register push_defaults_to_the_five_images_of_a_release

push_refuses_before_pushing_when_an_image_is_missing() {
  fake_registry ghcr.io/o/gateway:2
  run "$SCRIPTS/push.sh" --registry ghcr.io/o --tag 2 gateway backup
  expect_status "$rc" 2
  expect_in "$out" "no local image ghcr.io/o/backup:2"
  [ -z "$(push_calls)" ] || fail "pushed: $(push_calls)"
}
register push_refuses_before_pushing_when_an_image_is_missing

push_refuses_a_bad_tag_and_missing_arguments() {
  fake_registry ghcr.io/o/gateway:2
  run "$SCRIPTS/push.sh" --registry ghcr.io/o --tag 'bad tag' gateway
  expect_status "$rc" 2
  expect_in "$out" "'bad tag' is not a valid image tag"
  run "$SCRIPTS/push.sh" --tag 2 gateway
  expect_status "$rc" 2
  expect_in "$out" "--registry and --tag are required"
  run "$SCRIPTS/push.sh" --registry ghcr.io/o --tag 2 --bogus gateway
  expect_status "$rc" 2
  expect_in "$out" "unknown option --bogus"
  [ -z "$(push_calls)" ] || fail "pushed: $(push_calls)"
}
register push_refuses_a_bad_tag_and_missing_arguments

push_fails_when_the_registry_refuses() {
  fake_registry ghcr.io/o/gateway:2 ghcr.io/o/backup:2
  echo ghcr.io/o/backup:2 >"$FAKE/refuse"
  run "$SCRIPTS/push.sh" --registry ghcr.io/o --tag 2 gateway backup
  expect_status "$rc" 1
  expect_in "$out" "requested access to the resource is denied"
  expect_in "$out" "pushing ghcr.io/o/backup:2 failed"
}
register push_fails_when_the_registry_refuses
