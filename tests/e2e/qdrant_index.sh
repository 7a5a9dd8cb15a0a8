#!/usr/bin/env bash
# qdrant_index.sh - payload indexes over HTTP with curl against the real
# binary: PUT /collections/{c}/index in both schema forms, payload_schema
# in GET /collections/{c} (types, params, points counted here from the
# generated data), Qdrant's errors, filtered counts equal to those on an
# unindexed copy of the same field, scroll and query order_by (values and
# order checked against a sort done here), text match with a text index,
# DELETE, and everything again after a restart (indexes rebuilt at open).
# VITRINE_BIN is exported by tests/run.sh.
set -u
BIN=${VITRINE_BIN:-./vitrine}
work=$(mktemp -d)
log=$work/serve.log
pid=
fail() {
    echo "qdrant_index.sh: FAIL: $*"
    echo "--- server log"
    tail -20 "$log" 2>/dev/null
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    rm -rf "$work"
    exit 1
}

start() {
    "$BIN" serve --port 0 --data "$work/data" --weights "$work/no-weights" 2>"$log" &
    pid=$!
    port=
    for _ in $(seq 1 "${VITRINE_START_TRIES:-100}"); do
        port=$(sed -n 's|.*listening on http://127\.0\.0\.1:\([0-9][0-9]*\).*|\1|p' "$log" | head -1)
        [ -n "$port" ] && break
        kill -0 "$pid" 2>/dev/null || fail "server exited early"
        sleep 0.1
    done
    [ -n "$port" ] || fail "no 'listening on' line in the log"
    base=http://127.0.0.1:$port
}

stop() {
    kill -TERM "$pid"
    wait "$pid" || fail "server exit status $?"
    pid=
}

# req METHOD PATH [BODY]: sets code and body.
req() {
    if [ $# -ge 3 ]; then
        code=$(curl -sS --max-time 20 -o "$work/out" -w '%{http_code}' -X "$1" \
            -H 'Content-Type: application/json' --data-binary "$3" "$base$2") || fail "curl $1 $2"
    else
        code=$(curl -sS --max-time 20 -o "$work/out" -w '%{http_code}' -X "$1" "$base$2") || fail "curl $1 $2"
    fi
    body=$(cat "$work/out")
}

expect() { # expect CODE SUBSTRING WHAT
    [ "$code" = "$1" ] || fail "$3: status $code (want $1): $body"
    case "$body" in *"$2"*) ;; *) fail "$3: body lacks '$2': $body" ;; esac
}

start

# ---- data: 300 points, payloads from a rule the checks below recompute ----
# city: Berlin when i%10==0, London when i%3==0 (else), else Paris;
# cityc: the same values, never indexed; price: i*7%100 (ints), with
# [price, price+1000] on every 25th point; score: i/4 as a float;
# day: 2024-01-(1+i%28); flag: i%2==0; tags: text; loc: a geo point.
points() {
    awk 'BEGIN {
        printf "{\"points\":["
        for (i = 1; i <= 300; i++) {
            city = (i % 10 == 0) ? "Berlin" : (i % 3 == 0) ? "London" : "Paris"
            p = (i * 7) % 100
            price = (i % 25 == 0) ? sprintf("[%d,%d]", p, p + 1000) : sprintf("%d", p)
            words = (i % 4 == 0) ? "Red cotton Shirt" : (i % 4 == 1) ? "blue wool, socks" : (i % 4 == 2) ? "red shoes" : "green"
            printf "%s{\"id\":%d,\"vector\":[%d,1,0,%d],\"payload\":{\"city\":\"%s\",\"cityc\":\"%s\",\"price\":%s,\"score\":%.2f,\"day\":\"2024-01-%02dT00:00:00Z\",\"flag\":%s,\"tags\":\"%s\",\"loc\":{\"lon\":%d.5,\"lat\":%d.25}}}",
                (i > 1 ? "," : ""), i, i % 7, i % 5, city, city, price, i / 4.0, 1 + i % 28,
                (i % 2 == 0 ? "true" : "false"), words, i % 90, i % 45
        }
        printf "]}"
    }'
}

req PUT /collections/shop '{"vectors":{"size":4,"distance":"Dot"}}'
expect 200 '"result":true' "create collection"
req PUT '/collections/shop/points?wait=true' "$(points)"
expect 200 '"status":"completed"' "upsert"

# ---- create, both forms ----
req PUT '/collections/shop/index?wait=true' '{"field_name":"city","field_schema":"keyword"}'
expect 200 '"status":"completed"' "keyword index"
echo "$body" | grep -Eq '"result":\{"operation_id":[0-9]+,"status":"completed"\}' || fail "UpdateResult shape: $body"
req PUT '/collections/shop/index?wait=true' '{"field_name":"price","field_schema":{"type":"integer","range":true}}'
expect 200 '"completed"' "integer index (params)"
req PUT '/collections/shop/index' '{"field_name":"score","field_type":"float"}'
expect 200 '"acknowledged"' "float index (field_type alias, wait=false)"
req PUT '/collections/shop/index?wait=true' '{"field_name":"day","field_schema":"datetime"}'
expect 200 '"completed"' "datetime index"
req PUT '/collections/shop/index?wait=true' '{"field_name":"flag","field_schema":"bool"}'
expect 200 '"completed"' "bool index"
req PUT '/collections/shop/index?wait=true' \
    '{"field_name":"tags","field_schema":{"type":"text","tokenizer":"word","lowercase":true,"min_token_len":2}}'
expect 200 '"completed"' "text index"
req PUT '/collections/shop/index?wait=true' '{"field_name":"loc","field_schema":"geo"}'
expect 200 '"completed"' "geo index"

# ---- errors in Qdrant's wording ----
req PUT '/collections/shop/index' '{"field_name":"x"}'
expect 400 '"Bad request: Can'"'"'t auto-detect field type, please specify `field_schema` in the request"' "no schema"
req PUT '/collections/shop/index' '{"field_name":"x","field_schema":{"type":"integer","lookup":false,"range":false}}'
expect 422 "Validation error: the 'lookup' and 'range' capabilities can't be both disabled" "lookup and range off"
req PUT '/collections/shop/index' '{"field_name":"x","field_schema":"tree"}'
expect 400 'Format error in JSON body: data did not match any variant of untagged enum PayloadFieldSchema' "bad type"
req PUT '/collections/shop/index' '{"field_schema":"keyword"}'
expect 400 'Format error in JSON body: missing field `field_name`' "no field_name"
req PUT '/collections/nope/index' '{"field_name":"x","field_schema":"keyword"}'
expect 404 'Not found: Collection `nope` doesn'"'"'t exist!' "unknown collection"
req PUT '/collections/shop/index' '{"field_name":"x","field_schema":{"type":"text","tokenizer":"multilingual"}}'
expect 501 'multilingual' "unsupported text feature named"
req PUT '/collections/shop/index' '{"field_name":"x","field_schema":{"type":"text","stemmer":{"type":"snowball","language":"latin"}}}'
expect 400 'unknown variant `latin`' "unknown stemmer language"

# ---- payload_schema; points counted from the rule above ----
check_schema() {
    req GET /collections/shop
    expect 200 '"payload_schema":{' "$1: collection info"
    echo "$body" | grep -q '"city":{"data_type":"keyword","points":300}' || fail "$1: city schema: $body"
    echo "$body" | grep -q '"price":{"data_type":"integer","params":{"type":"integer","lookup":null,"range":true,"is_principal":null},"points":300}' ||
        fail "$1: price schema: $body"
    echo "$body" | grep -q '"score":{"data_type":"float","points":300}' || fail "$1: score schema: $body"
    echo "$body" | grep -q '"day":{"data_type":"datetime","points":300}' || fail "$1: day schema: $body"
    echo "$body" | grep -q '"flag":{"data_type":"bool","points":300}' || fail "$1: flag schema: $body"
    echo "$body" | grep -q '"tags":{"data_type":"text","params":{"type":"text","tokenizer":"word","min_token_len":2,"lowercase":true},"points":300}' ||
        fail "$1: tags schema: $body"
    echo "$body" | grep -q '"loc":{"data_type":"geo","points":300}' || fail "$1: loc schema: $body"
    echo "$body" | grep -q '"cityc"' && fail "$1: cityc is not indexed: $body"
    true
}
check_schema "after create"

# ---- filters: indexed field == unindexed copy == the rule ----
count() { # count FILTER -> n
    req POST /collections/shop/points/count "{\"filter\":$1,\"exact\":true}"
    [ "$code" = 200 ] || fail "count $1: $code $body"
    echo "$body" | sed -n 's/.*"count":\([0-9]*\).*/\1/p'
}
check_counts() {
    for c in Berlin London Paris Rome; do
        want=$(awk -v c=$c 'BEGIN { n = 0; for (i = 1; i <= 300; i++) { x = (i % 10 == 0) ? "Berlin" : (i % 3 == 0) ? "London" : "Paris"; n += (x == c) } print n }')
        a=$(count "{\"must\":[{\"key\":\"city\",\"match\":{\"value\":\"$c\"}}]}")
        b=$(count "{\"must\":[{\"key\":\"cityc\",\"match\":{\"value\":\"$c\"}}]}")
        [ "$a" = "$want" ] && [ "$b" = "$want" ] || fail "$1: city=$c: indexed $a, unindexed $b, rule $want"
    done
    want=$(awk 'BEGIN { n = 0; for (i = 1; i <= 300; i++) { p = (i * 7) % 100; x = (p >= 20 && p < 40) || (i % 25 == 0 && p + 1000 >= 20 && p + 1000 < 40); n += (x && i % 10 != 0) } print n }')
    a=$(count '{"must":[{"key":"price","range":{"gte":20,"lt":40}}],"must_not":[{"key":"city","match":{"value":"Berlin"}}]}')
    [ "$a" = "$want" ] || fail "$1: price range: $a, rule $want"
    a=$(count '{"must":[{"key":"day","range":{"gte":"2024-01-10","lt":"2024-01-12T00:00:00Z"}},{"key":"flag","match":{"value":true}}]}')
    want=$(awk 'BEGIN { n = 0; for (i = 1; i <= 300; i++) { d = 1 + i % 28; n += (d >= 10 && d < 12 && i % 2 == 0) } print n }')
    [ "$a" = "$want" ] || fail "$1: day and flag: $a, rule $want"
    # Text index: every query token, case-folded ("red" is not in "shoes"... but
    # "Red cotton Shirt" and "red shoes" hold "red").
    a=$(count '{"must":[{"key":"tags","match":{"text":"RED shirt"}}]}')
    [ "$a" = 75 ] || fail "$1: text 'RED shirt': $a, want 75"
    a=$(count '{"must":[{"key":"tags","match":{"text":"red"}}]}')
    [ "$a" = 150 ] || fail "$1: text 'red': $a, want 150"
    a=$(count '{"must":[{"key":"tags","match":{"text":"re"}}]}')
    [ "$a" = 0 ] || fail "$1: text 're' is not a token: $a"
}
check_counts "after create"

# ---- order_by ----
order_ids() { # prints "id:value" pairs of the result
    echo "$body" | grep -o '"id":[0-9]*,"payload":{[^}]*}*,"order_value":[0-9.e+-]*\|"id":[0-9]*,"order_value":[0-9.e+-]*' |
        sed 's/"id":\([0-9]*\).*"order_value":\([0-9.e+-]*\)/\1:\2/' | tr '\n' ' '
}
rule_prices() { # rule_prices asc|desc START LIMIT -> "id:value" pairs sorted as Qdrant does
    awk -v dir=$1 -v start=$2 'BEGIN {
        for (i = 1; i <= 300; i++) {
            p = (i * 7) % 100
            if (dir == "asc" ? p >= start : p <= start) printf "%d %d\n", p, i
            if (i % 25 == 0 && (dir == "asc" ? p + 1000 >= start : p + 1000 <= start)) printf "%d %d\n", p + 1000, i
        }
    }' | if [ "$1" = asc ]; then sort -k1,1n -k2,2n; else sort -k1,1nr -k2,2nr; fi | head -n "$3" | awk '{ printf "%s:%s ", $2, $1 }'
}
check_order() {
    req POST /collections/shop/points/scroll '{"order_by":{"key":"price","direction":"desc"},"limit":12,"with_payload":false}'
    expect 200 '"next_page_offset":null' "$1: order_by desc"
    [ "$(order_ids)" = "$(rule_prices desc 100000 12)" ] || fail "$1: order desc: $(order_ids) vs $(rule_prices desc 100000 12)"
    req POST /collections/shop/points/scroll '{"order_by":{"key":"price","start_from":50},"limit":15,"with_payload":false}'
    expect 200 '"order_value":50' "$1: order_by asc from 50"
    [ "$(order_ids)" = "$(rule_prices asc 50 15)" ] || fail "$1: order asc from 50: $(order_ids) vs $(rule_prices asc 50 15)"
    # Query API: the same order, scores 1.
    req POST /collections/shop/points/query '{"query":{"order_by":{"key":"price","start_from":50}},"limit":15}'
    expect 200 '"score":1' "$1: query order_by"
    got=$(echo "$body" | grep -o '"id":[0-9]*,"version":0,"score":1,"order_value":[0-9]*' | sed 's/"id":\([0-9]*\).*"order_value":\([0-9]*\)/\1:\2/' | tr '\n' ' ')
    [ "$got" = "$(rule_prices asc 50 15)" ] || fail "$1: query order: $got"
    # Datetime: order_value in microseconds; start_from as a datetime string.
    req POST /collections/shop/points/scroll '{"order_by":{"key":"day","start_from":"2024-01-28T00:00:00Z"},"limit":2,"with_payload":false}'
    expect 200 '"order_value":1706400000000000' "$1: datetime order_by"
    echo "$body" | grep -q '"id":27,"order_value":1706400000000000},{"id":55,' || fail "$1: datetime ties by id: $body"
}
check_order "after create"
req POST /collections/shop/points/scroll '{"order_by":"price","offset":3}'
expect 400 'Wrong input: Cannot use an `offset` when using `order_by`. The alternative for paging is to use `order_by.start_from` and a filter to exclude the IDs that you'"'"'ve already seen for the `order_by.start_from` value' "offset with order_by"
req POST /collections/shop/points/scroll '{"order_by":"city"}'
expect 400 'Wrong input: No range index for `order_by` key: `city`. Please create one to use `order_by`. Check https://qdrant.tech/documentation/concepts/indexing/#payload-index to see which payload schemas support Range conditions' "order_by on keyword"

# ---- writes keep the indexes current ----
req POST '/collections/shop/points/payload?wait=true' '{"payload":{"city":"Rome"},"points":[1,2,3]}'
expect 200 '"completed"' "set payload"
[ "$(count '{"must":[{"key":"city","match":{"value":"Rome"}}]}')" = 3 ] || fail "Rome after set payload"
req POST '/collections/shop/points/delete?wait=true' '{"points":[2]}'
expect 200 '"completed"' "delete"
[ "$(count '{"must":[{"key":"city","match":{"value":"Rome"}}]}')" = 2 ] || fail "Rome after delete"
req GET /collections/shop
echo "$body" | grep -q '"city":{"data_type":"keyword","points":299}' || fail "points after delete: $body"
# Restore point 2 and 1, 3 for the checks after the restart.
req PUT '/collections/shop/points?wait=true' "$(points)"
expect 200 '"completed"' "re-upsert"

# ---- restart: definitions persisted, contents rebuilt ----
stop
start
grep -q 'payload indexes built' "$log" || fail "no index build at open in the log"
check_schema "after restart"
check_counts "after restart"
check_order "after restart"

# ---- delete ----
req DELETE '/collections/shop/index/price?wait=true'
expect 200 '"completed"' "delete index"
req DELETE '/collections/shop/index/never-indexed?wait=true'
expect 200 '"completed"' "delete a missing index"
req GET /collections/shop
echo "$body" | grep -q '"price":' && fail "price still in payload_schema: $body"
req POST /collections/shop/points/scroll '{"order_by":"price"}'
expect 400 'No range index for `order_by` key: `price`' "order_by after delete"
# Filters on the field still work, from the payload.
want=$(awk 'BEGIN { n = 0; for (i = 1; i <= 300; i++) { p = (i * 7) % 100; n += (p >= 20 && p < 40) } print n }')
[ "$(count '{"must":[{"key":"price","range":{"gte":20,"lt":40}}]}')" = "$want" ] || fail "range without index"

stop
rm -rf "$work"
echo "qdrant_index.sh: ok"
