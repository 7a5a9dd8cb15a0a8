/*
 * qdrant_snapshots.c - Qdrant's collection snapshot routes over the
 * engine's collection_snapshot / collection_recover:
 *
 *   GET    /collections/{c}/snapshots              list (SnapshotDescription[])
 *   POST   /collections/{c}/snapshots?wait=        create
 *   GET    /collections/{c}/snapshots/{s}          download the file
 *   DELETE /collections/{c}/snapshots/{s}?wait=    delete it (and its .checksum)
 *   PUT    /collections/{c}/snapshots/recover      recover from a file:// or http:// location
 *   POST   /collections/{c}/snapshots/upload       recover from a multipart upload
 *   GET, POST /snapshots, GET, DELETE /snapshots/{s}   the same for full snapshots
 *                                                  (the whole database, collection_db_snapshot)
 *   /collections/{c}/shards/{shard_id}/snapshots...   the same for shard snapshots:
 *                                                  list, create, download, delete, upload, recover
 *
 * Files. A collection's snapshots live in <data>/snapshots/<collection>/
 * as Qdrant names them, `{collection}-{peer}-{YYYY-MM-DD-HH-MM-SS}.snapshot`
 * (peer 0: vitrine is one node, as GET /collections/{c}/cluster says),
 * each with `<file>.checksum` holding its SHA-256 in hex. A snapshot is
 * written as `<file>.part`, its checksum file next to it, and then renamed,
 * so a listing never shows a half-written snapshot or one without its
 * checksum. A recover reads only files inside <data>/snapshots (any
 * collection's folder, as Qdrant's global snapshots directory), checked on
 * the canonical path, so symlinks and ".." cannot leave it. Full
 * snapshots lie in <data>/snapshots itself, as Qdrant's.
 *
 * Shards. A vitrine collection is one local shard, shard 0 (GET
 * /collections/{c}/cluster says so), so a shard snapshot is the
 * collection's data: the same file format as a collection snapshot, kept
 * where Qdrant keeps shard snapshots, <data>/snapshots/<c>/shards/0/, named
 * as Qdrant names them, `{collection}-shard-0-{time}.snapshot`. Recovering
 * one replaces the collection's data, as recovering shard 0 of a one-shard
 * collection does in Qdrant; the collection must exist. Any other shard id
 * answers Qdrant's 404 "shard N not found".
 *
 * Downloaded locations. An http:// location is downloaded (fetch.h: on
 * the worker thread, never the loop, with connect and read timeouts,
 * redirects followed) into a temporary file in <data>/snapshots
 * (`.download-XXXXXX`, removed when the recover ends and at start-up),
 * hashed as it arrives, and recovered from there. At most
 * QDRANT_SNAPSHOT_MAX_FETCH bytes are downloaded. https:// needs TLS,
 * which vitrine does not link: it answers 400 saying so (serve the file
 * over http://, or upload it). Failures keep Qdrant's words and codes
 * (download.rs, download_tar.rs): no connection or a broken answer is 500
 * "Http request error: ...", an answer other than 2xx is 400 "Failed to
 * download tar from {url}: status - {code}", a wrong checksum 400.
 *
 * Threads. Creating and recovering read or write a whole collection, for
 * seconds on a large one, so they run one at a time on a worker thread of
 * their own (a work queue of QDRANT_SNAPSHOT_QUEUE jobs): never on the loop,
 * never on the writer thread (writes go on meanwhile; a snapshot holds the
 * write lock only to save the graph and open its read transaction, a
 * recover only for its final commit), and never on the threadpool, which
 * serves searches. Listing, deleting, validating a recover request and
 * storing an upload are short file operations done on the threadpool
 * (API_ASYNC's prepare half). Qdrant's `wait` defaults to true on these
 * routes; wait=false answers 202 {"status":"accepted"} once the job is
 * queued.
 *
 * Downloads. The server's responses are whole buffers (no streaming), so a
 * download is read into memory on the threadpool and handed to the
 * response without a copy: it costs the file's size in memory until it is
 * sent. Files over QDRANT_SNAPSHOT_MAX_DOWNLOAD answer 501 naming the limit
 * and the file's path, and at most QDRANT_SNAPSHOT_DOWNLOADS files are
 * being read at once (503 with Retry-After beyond).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "api/qdrant_internal.h"
#include "base/err.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/util.h"
#include "server/fetch.h"
#include "server/multipart.h"

/* Snapshot jobs queued for the worker at most (503 beyond). */
#define QDRANT_SNAPSHOT_QUEUE 16
/* Largest file a download reads into memory, and reads at once. */
#define QDRANT_SNAPSHOT_MAX_DOWNLOAD ((uint64_t)1 << 30)
#define QDRANT_SNAPSHOT_DOWNLOADS 2
/* The peer id in snapshot names. */
#define QDRANT_SNAPSHOT_PEER 0
/* Bytes of a .checksum file read back. */
#define QDRANT_SNAPSHOT_CHECKSUM_MAX 256
#define SNAP_PATH_MAX (SERVER_MAX_PATH + 512)
/* The most bytes an http:// recover location may have: a bound on a
 * runaway or hostile server, far above any shop's collection (the disk
 * is the practical limit, and a full disk fails the recover with 507). */
#define QDRANT_SNAPSHOT_MAX_FETCH ((uint64_t)64 << 30)
/* The one shard of a vitrine collection. */
#define QDRANT_SNAPSHOT_SHARD 0
/* The prefix of a download's temporary file in the snapshots directory. */
#define QDRANT_SNAPSHOT_DOWNLOAD_PREFIX ".download-"

struct ApiSnapshots {
    WorkQueue *queue;
    char dir[PATH_MAX]; /* <data>/snapshots, canonical */
    int downloads;      /* files being read for a download (loop and pool: atomic) */
};

typedef enum { SNAP_CREATE, SNAP_FULL, SNAP_RECOVER } SnapOp;

/* One job of the worker; malloc'd, freed by its done callback. */
typedef struct {
    WorkItem item; /* first: the queue's link */
    SnapOp op;
    Api *api;
    ApiJob *job; /* the request waiting for the answer, or NULL (wait=false) */
    char collection[COLLECTION_MAX_NAME + 1];
    int shard;                /* create: a shard snapshot (of shard 0) */
    char path[SNAP_PATH_MAX]; /* recover: the file, or "" to download url */
    char url[FETCH_MAX_URL];  /* recover: the http:// location to download */
    char *api_key;            /* recover: sent with the download, or NULL (malloc'd) */
    int has_checksum;         /* recover: verify the file against checksum first */
    uint8_t checksum[SHA256_DIGEST_LEN];
    char checksum_hex[SHA256_HEX_LEN + 1];
} SnapJob;

static void snap_job_free(SnapJob *sj)
{
    if (!sj) return;
    free(sj->api_key);
    free(sj);
}

/* ---- helpers ---- */

/* resolve puts the collection's own name (j->collection may be an alias)
 * into out, or fails with Qdrant's 404. */
static int resolve(ApiJob *j, char *out, size_t cap)
{
    const char *name = j->collection;
    CollectionAlias *al;
    size_t n;
    if (collection_alias_list(j->api->db, NULL, api_arena(j), &al, &n) == 0)
        for (size_t i = 0; i < n; i++)
            if (!strcmp(al[i].alias_name, name)) name = al[i].collection_name;
    CollectionInfo *ci = arena_alloc(api_arena(j), sizeof *ci);
    int rc = collection_info(j->api->db, name, ci);
    if (rc) return api_fail_collection(j, rc, NULL);
    snprintf(out, cap, "%s", name);
    return 0;
}

static void collection_dir(const Api *api, const char *collection, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s", api->snapshots->dir, collection);
}

/* shard_dir is where a collection's shard snapshots lie, as Qdrant's
 * (shard_holder snapshots_path_for_shard_unchecked). */
static void shard_dir(const Api *api, const char *collection, char *out, size_t cap)
{
    snprintf(out, cap, "%s/%s/shards/%d", api->snapshots->dir, collection, QDRANT_SNAPSHOT_SHARD);
}

/* is_shard_route is 1 on /collections/{c}/shards/{shard_id}/... routes. */
static int is_shard_route(const ApiJob *j) { return http_param(j->req, "shard_id") != NULL; }

/* resolve_shard checks a shard route's {shard_id} (a u32, as Qdrant's
 * ShardId path parameter) and collection, in Qdrant's order: the path
 * parses, the collection exists, the shard exists (only shard 0 does). */
static int resolve_shard(ApiJob *j, char *out, size_t cap)
{
    const char *id = http_param(j->req, "shard_id");
    unsigned long long v = 0;
    int ok = *id != '\0';
    for (const char *c = id; ok && *c; c++) {
        ok = *c >= '0' && *c <= '9';
        v = v * 10 + (unsigned long long)(*c - '0');
        if (v > UINT32_MAX) ok = 0;
    }
    if (!ok) return api_fail(j, QERR_PATH, "can not parse \"%.100s\" to a u32", id);
    if (resolve(j, out, cap)) return -1;
    if (v != QDRANT_SNAPSHOT_SHARD) return api_fail(j, QERR_NOT_FOUND, "shard %llu not found", v);
    return 0;
}

/* snap_dir is the folder a route's snapshots are in: the collection's
 * (which must exist) for /collections/{c}/snapshots..., its shard 0's for
 * /collections/{c}/shards/0/snapshots..., the snapshots directory itself
 * for the full snapshots of /snapshots... */
static int snap_dir(ApiJob *j, char *out, size_t cap)
{
    if (!j->collection) {
        snprintf(out, cap, "%s", j->api->snapshots->dir);
        return 0;
    }
    char coll[COLLECTION_MAX_NAME + 1];
    if (is_shard_route(j)) {
        if (resolve_shard(j, coll, sizeof coll)) return -1;
        shard_dir(j->api, coll, out, cap);
        return 0;
    }
    if (resolve(j, coll, sizeof coll)) return -1;
    collection_dir(j->api, coll, out, cap);
    return 0;
}

/* The time formats: Qdrant's names use %Y-%m-%d-%H-%M-%S, its
 * creation_time chrono's NaiveDateTime (UTC, no zone). */
static void format_time(time_t t, const char *fmt, char *out, size_t cap)
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, fmt, &tm);
}

/* read_checksum reads `<path>.checksum` into out ("" when absent). */
static void read_checksum(const char *path, char *out, size_t cap)
{
    char cpath[SNAP_PATH_MAX + 16];
    out[0] = '\0';
    snprintf(cpath, sizeof cpath, "%s.checksum", path);
    int fd = open(cpath, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;
    ssize_t n = read(fd, out, cap - 1);
    close(fd);
    out[n > 0 ? n : 0] = '\0';
}

/* write_description writes a SnapshotDescription of the file at path. */
static int write_description(JsonWriter *w, const char *path, const char *name)
{
    struct stat sb;
    if (stat(path, &sb) != 0) return ERR_NOTFOUND;
    char when[32], sum[QDRANT_SNAPSHOT_CHECKSUM_MAX];
    format_time(sb.st_mtime, "%Y-%m-%dT%H:%M:%S", when, sizeof when);
    read_checksum(path, sum, sizeof sum);
    jw_object_begin(w);
    jw_key(w, "name");
    jw_string(w, name);
    jw_key(w, "creation_time");
    jw_string(w, when);
    jw_key(w, "size");
    jw_uint(w, (uint64_t)sb.st_size);
    if (sum[0]) {
        jw_key(w, "checksum");
        jw_string(w, sum);
    }
    jw_object_end(w);
    return 0;
}

/* mkdir_p makes dir and its parents. */
static int mkdir_p(const char *dir)
{
    char buf[SNAP_PATH_MAX];
    snprintf(buf, sizeof buf, "%s", dir);
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = '\0';
        if (mkdir(buf, 0755) != 0 && errno != EEXIST) return ERR_IO;
        *p = '/';
    }
    return mkdir(buf, 0755) != 0 && errno != EEXIST ? ERR_IO : 0;
}

/* write_all writes a whole buffer to path through path.tmp (fsync'd). */
static int write_all(const char *path, const void *data, size_t len)
{
    char tmp[SNAP_PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return ERR_IO;
    const char *p = data;
    int err = 0;
    while (len && !err) {
        ssize_t w = write(fd, p, len);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) err = errno == ENOSPC ? ERR_FULL : ERR_IO;
        else {
            p += w;
            len -= (size_t)w;
        }
    }
    if (!err && fsync(fd) != 0) err = ERR_IO;
    close(fd);
    if (!err && rename(tmp, path) != 0) err = ERR_IO;
    if (err) unlink(tmp);
    return err;
}

/* sha256_file hashes a file. */
static int sha256_file(const char *path, uint8_t out[SHA256_DIGEST_LEN])
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) return errno == ENOENT ? ERR_NOTFOUND : ERR_IO;
    Sha256 s;
    sha256_init(&s);
    uint8_t *buf = xmalloc(1 << 20);
    int err = 0;
    for (;;) {
        ssize_t n = read(fd, buf, 1 << 20);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) err = ERR_IO;
        if (n <= 0) break;
        sha256_update(&s, buf, (size_t)n);
    }
    free(buf);
    close(fd);
    if (!err) sha256_final(&s, out);
    return err;
}

/* snapshot_file finds snapshot `name` in folder dir: Qdrant's rules
 * (lib/collection/src/common/snapshots_manager.rs get_snapshot_path): the
 * canonical path must be a regular file inside the folder, else
 * "Snapshot {name} not found". */
static int snapshot_file(ApiJob *j, const char *dir, const char *name, char *out, size_t cap)
{
    char canon_dir[PATH_MAX], path[SNAP_PATH_MAX], canon[PATH_MAX];
    if (!realpath(dir, canon_dir))
        return api_fail(j, QERR_NOT_FOUND, "Snapshot directory: %s not found", dir);
    int pl = snprintf(path, sizeof path, "%s/%s", canon_dir, name);
    size_t dl = strlen(canon_dir);
    struct stat sb;
    if (!*name || pl < 0 || (size_t)pl >= sizeof path || !realpath(path, canon) || strncmp(canon, canon_dir, dl) || canon[dl] != '/' ||
        stat(canon, &sb) != 0 || !S_ISREG(sb.st_mode))
        return api_fail(j, QERR_NOT_FOUND, "Snapshot %s not found", name);
    snprintf(out, cap, "%s", canon);
    return 0;
}

/* wait_param reads ?wait=, which defaults to true on snapshot routes
 * (snapshot_api.rs: params.wait.unwrap_or(true)). */
static int wait_param(ApiJob *j, int *wait) { return api_query_bool(j, "wait", 1, wait); }

/* accepted answers wait=false as Qdrant does: 202 {"status":"accepted"}. */
static void accepted(ApiJob *j)
{
    char body[96];
    int n = snprintf(body, sizeof body, "{\"status\":\"accepted\",\"time\":%.6f}",
                     http_request_seconds(j->req));
    j->answered = 1;
    http_respond(j->req, 202, "application/json", body, (size_t)n);
}

/* check_collection_name applies Qdrant's StrictCollectionPath rules to a
 * collection that a recover may create. */
static int check_collection_name(ApiJob *j, const char *name)
{
    size_t n = strlen(name);
    if (n < 1 || n > COLLECTION_MAX_NAME)
        return api_fail(j, QERR_VALIDATION_PATH,
                        "collection_name: value \"%.300s\" invalid, must be from 1 to %d characters",
                        name, COLLECTION_MAX_NAME);
    /* "." and ".." pass Qdrant's character rules but would name the
     * snapshots directory or the data directory itself as the
     * collection's folder: an upload would then write beside data.mdb. The
     * engine refuses them as names too (coll_name_valid). */
    if (!strcmp(name, ".") || !strcmp(name, ".."))
        return api_fail(j, QERR_BAD_INPUT, "collection name cannot be \".\" or \"..\"");
    static const char bad[] = "<>:\"/\\|?*\x1f";
    for (const char *p = bad; *p; p++)
        if (strchr(name, *p))
            return api_fail(j, QERR_VALIDATION_PATH,
                            "collection_name: collection name cannot contain \"%c\" char", *p);
    return 0;
}

/* check_priority accepts Qdrant's SnapshotPriority values (one node: all
 * mean the same here). */
static int check_priority(ApiJob *j, const char *p, QErr kind)
{
    if (!p || !strcmp(p, "no_sync") || !strcmp(p, "snapshot") || !strcmp(p, "replica")) return 0;
    return api_fail(j, kind, "unknown variant `%.100s`, expected one of `no_sync`, `snapshot`, `replica`",
                    p);
}

/* ---- the worker ---- */

/* snap_create makes a collection snapshot, or (SNAP_FULL) a snapshot of
 * the whole database: collection_db_snapshot's compacted LMDB copy, named
 * as Qdrant names its full snapshots (full-snapshot-{time}.snapshot); it
 * is restored by making it the data.mdb of an empty data directory. */
static void snap_create(SnapJob *sj)
{
    Api *api = sj->api;
    ApiJob *j = sj->job;
    int full = sj->op == SNAP_FULL;
    char dir[SNAP_PATH_MAX], name[COLLECTION_MAX_NAME + 64], path[SNAP_PATH_MAX + 330],
        part[SNAP_PATH_MAX + 340], sumpath[SNAP_PATH_MAX + 350], when[32], msg[512] = "";
    if (full) snprintf(dir, sizeof dir, "%s", api->snapshots->dir);
    else if (sj->shard) shard_dir(api, sj->collection, dir, sizeof dir);
    else collection_dir(api, sj->collection, dir, sizeof dir);
    format_time(time(NULL), "%Y-%m-%d-%H-%M-%S", when, sizeof when);
    if (full) snprintf(name, sizeof name, "full-snapshot-%s.snapshot", when);
    else if (sj->shard)
        snprintf(name, sizeof name, "%s-shard-%d-%s.snapshot", sj->collection, QDRANT_SNAPSHOT_SHARD, when);
    else snprintf(name, sizeof name, "%s-%d-%s.snapshot", sj->collection, QDRANT_SNAPSHOT_PEER, when);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    snprintf(part, sizeof part, "%s.part", path);
    snprintf(sumpath, sizeof sumpath, "%s.checksum", path);
    CollectionSnapshotInfo info;
    int rc = mkdir_p(dir);
    if (rc) snprintf(msg, sizeof msg, "cannot create %.300s: %s", dir, strerror(errno));
    if (!rc && !full)
        rc = collection_snapshot(api->db, sj->collection, part, &info, msg, sizeof msg);
    if (!rc && full) {
        rc = collection_db_snapshot(api->db, part);
        if (!rc) rc = sha256_file(part, info.sha256);
        if (rc) snprintf(msg, sizeof msg, "the database snapshot failed: %s", err_str(rc));
    }
    char hex[SHA256_HEX_LEN + 1];
    if (!rc) {
        sha256_hex(info.sha256, hex);
        rc = write_all(sumpath, hex, SHA256_HEX_LEN);
        if (rc) snprintf(msg, sizeof msg, "cannot write %.400s", sumpath);
    }
    if (!rc && rename(part, path) != 0) {
        rc = ERR_IO;
        snprintf(msg, sizeof msg, "cannot rename %.400s: %s", part, strerror(errno));
    }
    if (rc) {
        unlink(part);
        log_error("snapshot of %s failed: %s", sj->collection, msg);
        if (j) api_fail_engine(j, rc, msg);
        return;
    }
    if (j && write_description(api_result(j), path, name))
        api_fail(j, QERR_SERVICE, "the snapshot %s vanished", path);
}

/*
 * snap_download fetches sj->url into a temporary file of the snapshots
 * directory and points sj->path at it (the caller unlinks it). The file
 * is hashed as it arrives, so a checksum is compared here, before the
 * recover reads it (sj->has_checksum is then cleared). Qdrant's words and
 * codes for each failure (download_tar.rs, errors.rs).
 */
static int snap_download(SnapJob *sj)
{
    ApiJob *j = sj->job;
    int n = snprintf(sj->path, sizeof sj->path, "%s/" QDRANT_SNAPSHOT_DOWNLOAD_PREFIX "XXXXXX",
                     sj->api->snapshots->dir);
    int fd = n > 0 && (size_t)n < sizeof sj->path ? mkostemp(sj->path, O_CLOEXEC) : -1;
    if (fd < 0) {
        int e = errno;
        log_error("cannot create a download file in %s: %s", sj->api->snapshots->dir, strerror(e));
        sj->path[0] = '\0';
        if (j) api_fail_engine(j, e == ENOSPC ? ERR_FULL : ERR_IO, "cannot create a download file");
        return -1;
    }
    FetchRequest req = { .url = sj->url, .fd = fd, .max_bytes = QDRANT_SNAPSHOT_MAX_FETCH,
                         .api_key = sj->api_key };
    FetchResult *res = xmalloc(sizeof *res);
    int rc = fetch_url(&req, res);
    if (!rc && fsync(fd) != 0) {
        rc = errno == ENOSPC ? ERR_FULL : ERR_IO;
        snprintf(res->err, sizeof res->err, "cannot write the download: %s", strerror(errno));
    }
    close(fd);
    int status_ok = res->status >= 200 && res->status <= 299;
    if (rc) log_error("download of %s failed: %s", sj->url, res->err);
    else if (!status_ok) log_error("download of %s failed: status %d", sj->url, res->status);
    if (!j) {
        /* wait=false: nobody to tell, the log says it. */
    } else if (rc == ERR_TOOLARGE) {
        api_fail(j, QERR_BAD_INPUT, "the snapshot at %s is too large: %s", sj->url, res->err);
    } else if (rc == ERR_FULL) {
        api_fail_engine(j, ERR_FULL, res->err);
    } else if (rc == ERR_UNSUPPORTED || rc == ERR_INVAL) {
        api_fail(j, QERR_BAD_REQUEST, "%s", res->err);
    } else if (rc) {
        api_fail(j, QERR_SERVICE, "Http request error: %s", res->err);
    } else if (!status_ok) {
        api_fail(j, QERR_BAD_INPUT, "Failed to download tar from %s: status - %d %s", sj->url,
                 res->status, http_status_reason(res->status));
    }
    if (!rc && !status_ok) rc = ERR_NOTFOUND;
    if (!rc && sj->has_checksum && memcmp(res->sha256, sj->checksum, SHA256_DIGEST_LEN)) {
        char hex[SHA256_HEX_LEN + 1];
        sha256_hex(res->sha256, hex);
        if (j)
            api_fail(j, QERR_BAD_INPUT, "Snapshot checksum mismatch: expected %s, got %s",
                     sj->checksum_hex, hex);
        rc = ERR_INVAL;
    }
    if (!rc) log_info("downloaded %llu bytes from %s for %s", (unsigned long long)res->bytes, res->url,
                      sj->collection);
    sj->has_checksum = 0;
    free(res);
    return rc ? -1 : 0;
}

static void snap_recover(SnapJob *sj)
{
    Api *api = sj->api;
    ApiJob *j = sj->job;
    char msg[512] = "";
    int downloaded = sj->url[0] != '\0';
    if (downloaded && snap_download(sj)) goto done;
    if (sj->has_checksum) {
        /* Verified before anything changes (recover.rs), Qdrant's words. */
        uint8_t got[SHA256_DIGEST_LEN];
        int rc = sha256_file(sj->path, got);
        if (rc) {
            if (j) api_fail(j, QERR_SERVICE, "cannot read %s: %s", sj->path, err_str(rc));
            goto done;
        }
        if (memcmp(got, sj->checksum, sizeof got)) {
            char hex[SHA256_HEX_LEN + 1];
            sha256_hex(got, hex);
            if (j)
                api_fail(j, QERR_BAD_INPUT, "Snapshot checksum mismatch: expected %s, got %s",
                         sj->checksum_hex, hex);
            goto done;
        }
    }
    CollectionSnapshotInfo info;
    int rc = collection_recover(api->db, sj->collection, sj->path, &info, msg, sizeof msg);
    if (rc) {
        log_error("recover of %s from %s failed: %s", sj->collection,
                  downloaded ? sj->url : sj->path, msg);
        if (!j) goto done;
        if (rc == ERR_FORMAT) api_fail(j, QERR_BAD_REQUEST, "%s", msg);
        else api_fail_engine(j, rc, msg);
        goto done;
    }
    /* A snapshot of an older build keeps m = 0 in its options only. */
    qdrant_exact_only_sync(api->db, sj->collection);
    if (j) api_result_true(j);
done:
    if (downloaded && sj->path[0] && unlink(sj->path) != 0)
        log_warn("cannot delete %s: %s", sj->path, strerror(errno));
}

/* Runs on the worker thread, one job at a time. A waiting request is
 * this thread's until the done callback hands it back to the loop. */
static void worker_run(void *ctx, WorkItem **items, size_t n)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++) {
        SnapJob *sj = (SnapJob *)items[i];
        if (sj->op == SNAP_RECOVER) snap_recover(sj);
        else snap_create(sj);
    }
}

static void worker_done(void *ctx, WorkItem *item)
{
    (void)ctx;
    SnapJob *sj = (SnapJob *)item;
    if (sj->job) api_finish(sj->job);
    snap_job_free(sj);
}

/* remove_stale_downloads deletes the temporary files of downloads that a
 * crash or a kill interrupted (nothing else is named so). */
static void remove_stale_downloads(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t pl = strlen(QDRANT_SNAPSHOT_DOWNLOAD_PREFIX);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, QDRANT_SNAPSHOT_DOWNLOAD_PREFIX, pl)) continue;
        char path[SNAP_PATH_MAX];
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        struct stat sb;
        if (lstat(path, &sb) == 0 && S_ISREG(sb.st_mode) && unlink(path) == 0)
            log_info("removed %s, an interrupted download", path);
    }
    closedir(d);
}

int qdrant_snapshots_start(Api *api)
{
    struct ApiSnapshots *s = xcalloc(1, sizeof *s);
    if (mkdir_p(api->snapshots_dir) || !realpath(api->snapshots_dir, s->dir)) {
        log_error("cannot create the snapshots directory %s: %s", api->snapshots_dir,
                  strerror(errno));
        free(s);
        return ERR_IO;
    }
    remove_stale_downloads(s->dir);
    WorkQueueConfig qc = {
        .name = "snapshots",
        .capacity = QDRANT_SNAPSHOT_QUEUE,
        .max_batch = 1,
        .run = worker_run,
        .done = worker_done,
        .ctx = api,
    };
    int rc = work_queue_start(server_loop(api->srv), &qc, &s->queue);
    if (rc) {
        free(s);
        return rc;
    }
    api->snapshots = s;
    return 0;
}

void qdrant_snapshots_stop(Api *api)
{
    if (api->snapshots && api->snapshots->queue) work_queue_stop(api->snapshots->queue);
    if (api->snapshots) api->snapshots->queue = NULL;
}

void qdrant_snapshots_free(Api *api)
{
    free(api->snapshots);
    api->snapshots = NULL;
}

/* queue_job hands sj to the worker (loop thread) and answers now
 * (wait=false: 202), later (wait=true: when the job is done) or with 503. */
static void queue_job(ApiJob *j, SnapJob *sj, int wait)
{
    sj->job = wait ? j : NULL;
    /* Answered before the push: from the push on, the worker may own j. */
    if (wait) j->answered = 1;
    int rc = work_queue_push(j->api->snapshots->queue, &sj->item);
    if (rc) {
        snap_job_free(sj);
        j->answered = 0;
        api_fail(j, QERR_UNAVAILABLE,
                 rc == ERR_FULL ? "too many snapshot operations queued, retry later"
                                : "the server is shutting down");
        return;
    }
    if (!wait) accepted(j);
}

/* ---- GET /collections/{c}/snapshots ---- */

static int cmp_cstr(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void list_run(ApiJob *j)
{
    char dir[SNAP_PATH_MAX];
    if (snap_dir(j, dir, sizeof dir)) return;
    char **names = NULL;
    size_t n = 0, cap = 0;
    DIR *d = opendir(dir);
    if (!d && errno != ENOENT) {
        api_fail(j, QERR_SERVICE, "cannot read %s: %s", dir, strerror(errno));
        return;
    }
    for (struct dirent *e; d && (e = readdir(d));) {
        size_t l = strlen(e->d_name);
        if (l <= 9 || strcmp(e->d_name + l - 9, ".snapshot")) continue;
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            names = xrealloc(names, cap * sizeof *names);
        }
        names[n++] = arena_strndup(api_arena(j), e->d_name, l);
    }
    if (d) closedir(d);
    if (n > 1) qsort(names, n, sizeof *names, cmp_cstr); /* names is NULL when n is 0 */
    JsonWriter *w = api_result(j);
    jw_array_begin(w);
    for (size_t i = 0; i < n; i++) {
        char path[SNAP_PATH_MAX + 300];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue; /* deleted meanwhile */
        write_description(w, path, names[i]);
    }
    jw_array_end(w);
    free(names);
}

/* ---- POST /collections/{c}/snapshots ---- */

typedef struct {
    SnapJob *sj;
    int wait;
} Queued;

static void create_prepare(ApiJob *j)
{
    Queued *q = arena_calloc(api_arena(j), sizeof *q);
    if (wait_param(j, &q->wait)) return;
    char coll[COLLECTION_MAX_NAME + 1] = "";
    int shard = is_shard_route(j);
    if (shard ? resolve_shard(j, coll, sizeof coll) : j->collection && resolve(j, coll, sizeof coll)) return;
    q->sj = xcalloc(1, sizeof *q->sj);
    q->sj->op = j->collection ? SNAP_CREATE : SNAP_FULL;
    q->sj->shard = shard;
    q->sj->api = j->api;
    snprintf(q->sj->collection, sizeof q->sj->collection, "%s", coll);
    j->state = q;
}

/* queued_run, on the loop, queues what prepare made (or frees it after a
 * failure). */
static void queued_run(ApiJob *j)
{
    Queued *q = j->state;
    if (!q || !q->sj) return;
    if (api_failed(j)) {
        snap_job_free(q->sj);
        return;
    }
    queue_job(j, q->sj, q->wait);
}

/* ---- GET /collections/{c}/snapshots/{s} ---- */

typedef struct {
    Buf data;
    char name[NAME_MAX + 1];
    int counted; /* holds one of the download slots */
} Download;

static void download_prepare(ApiJob *j)
{
    Download *d = arena_calloc(api_arena(j), sizeof *d);
    buf_init(&d->data);
    j->state = d;
    char dir[SNAP_PATH_MAX], path[PATH_MAX];
    const char *name = http_param(j->req, "snapshot_name");
    if (snap_dir(j, dir, sizeof dir) || snapshot_file(j, dir, name, path, sizeof path)) return;
    struct stat sb;
    if (stat(path, &sb) != 0) {
        api_fail(j, QERR_NOT_FOUND, "Snapshot %s not found", name);
        return;
    }
    if ((uint64_t)sb.st_size > QDRANT_SNAPSHOT_MAX_DOWNLOAD) {
        api_fail(j, QERR_UNSUPPORTED,
                 "downloading a snapshot larger than %llu bytes over HTTP (this one has %llu); "
                 "copy it from %s",
                 (unsigned long long)QDRANT_SNAPSHOT_MAX_DOWNLOAD, (unsigned long long)sb.st_size,
                 path);
        return;
    }
    struct ApiSnapshots *s = j->api->snapshots;
    if (__atomic_add_fetch(&s->downloads, 1, __ATOMIC_SEQ_CST) > QDRANT_SNAPSHOT_DOWNLOADS) {
        __atomic_sub_fetch(&s->downloads, 1, __ATOMIC_SEQ_CST);
        api_fail(j, QERR_UNAVAILABLE, "too many snapshot downloads at once, retry later");
        return;
    }
    d->counted = 1;
    /* malloc, not xmalloc: a huge file must fail the request, not the server. */
    size_t size = (size_t)sb.st_size;
    d->data.data = malloc(size + 1);
    if (!d->data.data) {
        api_fail(j, QERR_SERVICE, "out of memory reading %s (%zu bytes)", path, size);
        return;
    }
    d->data.cap = size + 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        api_fail(j, QERR_NOT_FOUND, "Snapshot %s not found", name);
        return;
    }
    while (d->data.len < size) {
        ssize_t n = read(fd, d->data.data + d->data.len, size - d->data.len);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        d->data.len += (size_t)n;
    }
    close(fd);
    d->data.data[d->data.len] = '\0';
    if (d->data.len != size) api_fail(j, QERR_SERVICE, "short read of %s", path);
    snprintf(d->name, sizeof d->name, "%s", name);
}

static void download_run(ApiJob *j)
{
    Download *d = j->state;
    if (d && d->counted) __atomic_sub_fetch(&j->api->snapshots->downloads, 1, __ATOMIC_SEQ_CST);
    if (api_failed(j)) {
        /* Qdrant writes this route's errors as plain text (its handler
         * returns an HttpError); the OpenAPI document, which issue 9 holds
         * every response to, says JSON. The JSON envelope wins: same status
         * and words, in the shape every other error has. */
        if (d) buf_free(&d->data);
        return;
    }
    char disp[NAME_MAX + 64];
    snprintf(disp, sizeof disp, "attachment; filename=\"%s\"", d->name);
    http_set_header(j->req, "Content-Disposition", disp);
    j->answered = 1;
    http_respond_buf(j->req, 200, "application/octet-stream", &d->data);
}

/* ---- DELETE /collections/{c}/snapshots/{s} ---- */

static void delete_prepare(ApiJob *j)
{
    int *wait = arena_calloc(api_arena(j), sizeof *wait);
    if (wait_param(j, wait)) return;
    char dir[SNAP_PATH_MAX], path[PATH_MAX], sum[PATH_MAX + 16];
    const char *name = http_param(j->req, "snapshot_name");
    if (snap_dir(j, dir, sizeof dir) || snapshot_file(j, dir, name, path, sizeof path)) return;
    if (unlink(path) != 0) {
        if (errno == ENOENT) api_fail(j, QERR_NOT_FOUND, "Snapshot %s not found", name);
        else api_fail(j, QERR_SERVICE, "cannot delete %s: %s", path, strerror(errno));
        return;
    }
    snprintf(sum, sizeof sum, "%s.checksum", path);
    if (unlink(sum) != 0 && errno != ENOENT)
        log_warn("cannot delete %s: %s", sum, strerror(errno));
    j->state = wait;
}

static void delete_run(ApiJob *j)
{
    int *wait = j->state;
    if (api_failed(j) || !wait) return;
    if (*wait) api_result_true(j);
    else accepted(j);
}

/* ---- PUT /collections/{c}/snapshots/recover ---- */

/* debug_path quotes a path as Rust's {:?} does, which Qdrant's messages use. */
static void debug_path(const char *p, char *out, size_t cap)
{
    size_t n = 0;
    if (cap < 3) return;
    out[n++] = '"';
    for (; *p && n + 3 < cap; p++) {
        if (*p == '"' || *p == '\\') out[n++] = '\\';
        out[n++] = *p;
    }
    out[n++] = '"';
    out[n] = '\0';
}

/* http_location checks an http(s):// location and keeps it for the
 * worker to download (sj->url): an invalid URL is Qdrant's deserialize
 * error (the url crate's words), https is refused for want of TLS. */
static int http_location(ApiJob *j, const char *url, SnapJob *sj)
{
    char err[FETCH_MAX_URL + 512];
    int rc = fetch_url_check(url, err, sizeof err);
    if (rc == ERR_UNSUPPORTED) return api_fail(j, QERR_BAD_REQUEST, "%s", err);
    if (rc) return api_fail(j, QERR_FORMAT, "location: %s", err);
    snprintf(sj->url, sizeof sj->url, "%s", url);
    return 0;
}

/* api_key_param keeps the recover's api_key for the download, refusing
 * what cannot be a header value (Qdrant: HeaderValue::from_str), so it
 * can never add a line to the request. */
static int api_key_param(ApiJob *j, const char *key, SnapJob *sj)
{
    if (!key) return 0;
    for (const unsigned char *c = (const unsigned char *)key; *c; c++)
        if ((*c < ' ' && *c != '\t') || *c == 0x7f)
            return api_fail(j, QERR_BAD_REQUEST, "api_key: not a valid HTTP header value");
    sj->api_key = xstrdup(key);
    return 0;
}

/*
 * location_path reads a collection recover's location, with Qdrant's
 * checks and words in its order
 * (lib/storage/src/content_manager/snapshots/download.rs): an http(s)
 * URL is kept for the worker to download (http_location); a file URL
 * must have no host but localhost and an absolute path, the file must
 * exist, and its canonical path must lie inside the snapshots directory
 * (403): sj->path is then that file.
 */
static int location_path(ApiJob *j, const char *url, SnapJob *sj)
{
    char *out = sj->path;
    size_t cap = sizeof sj->path;
    size_t sl = strcspn(url, ":/?#");
    if (url[sl] != ':' || sl == 0)
        return api_fail(j, QERR_FORMAT, "location: relative URL without a base");
    char scheme[16];
    snprintf(scheme, sizeof scheme, "%.*s", (int)MIN(sl, sizeof scheme - 1), url);
    for (char *c = scheme; *c; c++)
        if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
    if (!strcmp(scheme, "http") || !strcmp(scheme, "https")) return http_location(j, url, sj);
    if (strcmp(scheme, "file"))
        return api_fail(j, QERR_BAD_REQUEST, "URL %s with scheme %s is not supported", url, scheme);
    const char *rest = url + sl + 1, *path;
    if (!strncmp(rest, "//", 2)) {
        const char *host = rest + 2;
        size_t hl = strcspn(host, "/?#");
        if (hl && !(hl == 9 && !strncasecmp(host, "localhost", 9)))
            return api_fail(j, QERR_BAD_REQUEST,
                            "Invalid snapshot URI, file path must be absolute or on localhost");
        path = host + hl;
    } else {
        path = rest;
    }
    size_t pl = strcspn(path, "?#");
    if (pl == 0 || path[0] != '/')
        return api_fail(j, QERR_BAD_REQUEST,
                        "Invalid snapshot URI, file path must be absolute or on localhost");
    /* A %00 would cut the decoded path short of what the URL says. */
    for (size_t i = 0; i + 2 < pl; i++)
        if (path[i] == '%' && path[i + 1] == '0' && path[i + 2] == '0')
            return api_fail(j, QERR_BAD_REQUEST, "Invalid snapshot URI, the path holds a NUL");
    char *decoded = http_url_decode(api_arena(j), path, pl, 0);
    if (strlen(decoded) >= SNAP_PATH_MAX)
        return api_fail(j, QERR_BAD_REQUEST, "Invalid snapshot URI, the path is too long");
    char quoted[SNAP_PATH_MAX + 64], canon[PATH_MAX];
    debug_path(decoded, quoted, sizeof quoted);
    struct stat sb;
    if (stat(decoded, &sb) != 0)
        return api_fail(j, QERR_BAD_REQUEST, "Snapshot file %s does not exist", quoted);
    if (!realpath(decoded, canon))
        return api_fail(j, QERR_BAD_REQUEST, "Failed to resolve snapshot path %s: %s", quoted,
                        strerror(errno));
    const char *dir = j->api->snapshots->dir;
    size_t dl = strlen(dir);
    if (strncmp(canon, dir, dl) || canon[dl] != '/') {
        char qdir[PATH_MAX + 8];
        debug_path(dir, qdir, sizeof qdir);
        return api_fail(j, QERR_FORBIDDEN,
                        "Snapshot file path must be inside the snapshots directory %s", qdir);
    }
    snprintf(out, cap, "%s", canon);
    return 0;
}

/* checksum_param reads an optional SHA-256 in hex (validate_sha256_hash). */
static int checksum_param(ApiJob *j, const char *hex, QErr kind, SnapJob *sj)
{
    if (!hex) return 0;
    if (sha256_from_hex(hex, sj->checksum))
        return api_fail(j, kind, "checksum: invalid SHA256 hash, expected 64 characters 0-9, a-f, A-F");
    sj->has_checksum = 1;
    snprintf(sj->checksum_hex, sizeof sj->checksum_hex, "%s", hex);
    return 0;
}

/* RecoverBody is a recover request's body (collection and shard alike:
 * Qdrant's SnapshotRecover and ShardSnapshotRecover share these fields). */
typedef struct {
    const char *location, *checksum, *api_key;
} RecoverBody;

/* recover_body reads and checks a recover body (location required,
 * priority valid); nonzero when it failed j. */
static int recover_body(ApiJob *j, RecoverBody *b)
{
    const char *priority = NULL;
    memset(b, 0, sizeof *b);
    if (api_get_str(j, j->body, "location", &b->location) ||
        api_get_str(j, j->body, "priority", &priority) ||
        api_get_str(j, j->body, "checksum", &b->checksum) ||
        api_get_str(j, j->body, "api_key", &b->api_key))
        return -1;
    if (!b->location) return api_fail(j, QERR_FORMAT, "missing field `location`");
    return check_priority(j, priority, QERR_FORMAT);
}

static void recover_prepare(ApiJob *j)
{
    Queued *q = arena_calloc(api_arena(j), sizeof *q);
    if (wait_param(j, &q->wait) || api_body_object(j, 0)) return;
    if (check_collection_name(j, j->collection)) return;
    RecoverBody b;
    if (recover_body(j, &b)) return;
    SnapJob *sj = xcalloc(1, sizeof *sj);
    sj->op = SNAP_RECOVER;
    sj->api = j->api;
    snprintf(sj->collection, sizeof sj->collection, "%s", j->collection);
    if (checksum_param(j, b.checksum, QERR_VALIDATION, sj) || api_key_param(j, b.api_key, sj) ||
        location_path(j, b.location, sj)) {
        snap_job_free(sj);
        return;
    }
    q->sj = sj;
    j->state = q;
}

/* ---- PUT /collections/{c}/shards/{shard_id}/snapshots/recover ---- */

/* url_scheme_len is the length of location's URL scheme, or 0 when it is
 * not a URL (RFC 3986: ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"). */
static size_t url_scheme_len(const char *s)
{
    if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) return 0;
    size_t n = 1;
    while ((s[n] >= 'a' && s[n] <= 'z') || (s[n] >= 'A' && s[n] <= 'Z') || (s[n] >= '0' && s[n] <= '9') ||
           s[n] == '+' || s[n] == '-' || s[n] == '.')
        n++;
    return s[n] == ':' ? n : 0;
}

/*
 * shard_location reads a shard recover's location as Qdrant's
 * ShardSnapshotLocation (an untagged URL or file name, common/snapshots.rs
 * recover_shard_snapshot): a URL must be http(s) and is downloaded;
 * anything else names a snapshot file of the shard's folder, which must
 * be a plain file name there (shard_snapshot_path_unchecked).
 */
static int shard_location(ApiJob *j, const char *coll, const char *location, SnapJob *sj)
{
    size_t sl = url_scheme_len(location);
    char err[FETCH_MAX_URL + 512];
    if (sl) {
        char scheme[32];
        snprintf(scheme, sizeof scheme, "%.*s", (int)MIN(sl, sizeof scheme - 1), location);
        for (char *c = scheme; *c; c++)
            if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
        int rc = fetch_url_check(location, err, sizeof err);
        if (strcmp(scheme, "http") && strcmp(scheme, "https"))
            return api_fail(j, QERR_BAD_INPUT,
                            "Invalid snapshot URL %s: URLs with %s scheme are not supported", location,
                            scheme);
        if (rc == ERR_UNSUPPORTED) return api_fail(j, QERR_BAD_REQUEST, "%s", err);
        if (!rc) {
            snprintf(sj->url, sizeof sj->url, "%s", location);
            return 0;
        }
        /* Not a valid URL: Qdrant then reads it as a file name. */
    }
    if (strchr(location, '/')) return api_fail(j, QERR_NOT_FOUND, "Snapshot %s not found", location);
    char dir[SNAP_PATH_MAX];
    shard_dir(j->api, coll, dir, sizeof dir);
    return snapshot_file(j, dir, location, sj->path, sizeof sj->path);
}

static void shard_recover_prepare(ApiJob *j)
{
    Queued *q = arena_calloc(api_arena(j), sizeof *q);
    if (wait_param(j, &q->wait) || api_body_object(j, 0)) return;
    RecoverBody b;
    if (recover_body(j, &b)) return;
    SnapJob *sj = xcalloc(1, sizeof *sj);
    sj->op = SNAP_RECOVER;
    sj->api = j->api;
    if (checksum_param(j, b.checksum, QERR_VALIDATION, sj) ||
        resolve_shard(j, sj->collection, sizeof sj->collection) || api_key_param(j, b.api_key, sj) ||
        shard_location(j, sj->collection, b.location, sj)) {
        snap_job_free(sj);
        return;
    }
    q->sj = sj;
    j->state = q;
}

/* ---- POST /collections/{c}/snapshots/upload ---- */

/* upload_name is the saved file's name: the form's filename without its
 * directories, or a random one (snapshot_api.rs do_save_uploaded_snapshot). */
static void upload_name(const char *filename, char *out, size_t cap)
{
    const char *base = filename ? strrchr(filename, '/') : NULL;
    base = base ? base + 1 : filename;
    if (base && *base && strcmp(base, ".") && strcmp(base, "..") && strlen(base) < cap &&
        strlen(base) <= NAME_MAX - 16) {
        snprintf(out, cap, "%s", base);
        return;
    }
    uint8_t r[16];
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read(fd, r, sizeof r) != (ssize_t)sizeof r)
        for (size_t i = 0; i < sizeof r; i++) r[i] = (uint8_t)(rand() >> 7);
    if (fd >= 0) close(fd);
    r[6] = (uint8_t)((r[6] & 0x0f) | 0x40); /* a version 4 UUID, as Uuid::new_v4 */
    r[8] = (uint8_t)((r[8] & 0x3f) | 0x80);
    snprintf(out, cap,
             "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", r[0], r[1],
             r[2], r[3], r[4], r[5], r[6], r[7], r[8], r[9], r[10], r[11], r[12], r[13], r[14],
             r[15]);
}

static void upload_prepare(ApiJob *j)
{
    Queued *q = arena_calloc(api_arena(j), sizeof *q);
    int shard = is_shard_route(j);
    if (wait_param(j, &q->wait) || (!shard && check_collection_name(j, j->collection))) return;
    if (check_priority(j, http_query_get(j->req, "priority"), QERR_QUERY)) return;
    SnapJob *sj = xcalloc(1, sizeof *sj);
    sj->op = SNAP_RECOVER;
    sj->api = j->api;
    snprintf(sj->collection, sizeof sj->collection, "%s", j->collection);
    uint8_t want[SHA256_DIGEST_LEN];
    int check = 0;
    const char *hex = http_query_get(j->req, "checksum");
    if (checksum_param(j, hex, QERR_QUERY, sj)) goto fail;
    if (sj->has_checksum) {
        /* The upload is hashed here, in memory: the worker need not. */
        memcpy(want, sj->checksum, sizeof want);
        sj->has_checksum = 0;
        check = 1;
    }
    char boundary[MULTIPART_MAX_BOUNDARY + 1], err[256];
    if (multipart_boundary(http_header(j->req, "Content-Type"), boundary, sizeof boundary)) {
        api_fail(j, QERR_PAYLOAD, "Content type error: expected multipart/form-data with a boundary");
        goto fail;
    }
    MultipartPart *parts;
    size_t n;
    if (multipart_parse(api_arena(j), j->req->body.data, j->req->body.len, boundary, &parts, &n,
                        err, sizeof err)) {
        api_fail(j, QERR_PAYLOAD, "%s", err);
        goto fail;
    }
    const MultipartPart *p = multipart_find(parts, n, "snapshot");
    if (!p) {
        api_fail(j, QERR_BAD_REQUEST, "the multipart field `snapshot` is missing");
        goto fail;
    }
    if (check) {
        uint8_t got[SHA256_DIGEST_LEN];
        sha256(p->data, p->len, got);
        if (memcmp(got, want, sizeof got)) {
            /* upload_snapshot: checksum_mismatch(computed, given). */
            char hg[SHA256_HEX_LEN + 1];
            sha256_hex(got, hg);
            api_fail(j, QERR_CHECKSUM, "expected %s, actual %s", hg, hex);
            goto fail;
        }
    }
    char dir[SNAP_PATH_MAX], file[NAME_MAX + 1];
    if (shard) {
        /* A shard's collection must exist, checked after the checksum
         * as Qdrant does (upload_shard_snapshot); the upload is kept in
         * the shard's folder, as a collection's is in the collection's. */
        if (resolve_shard(j, sj->collection, sizeof sj->collection)) goto fail;
        shard_dir(j->api, sj->collection, dir, sizeof dir);
    } else {
        collection_dir(j->api, j->collection, dir, sizeof dir);
    }
    upload_name(p->filename, file, sizeof file);
    int pl = snprintf(sj->path, sizeof sj->path, "%s/%s", dir, file);
    int rc = pl < 0 || (size_t)pl >= sizeof sj->path ? ERR_IO : mkdir_p(dir);
    if (!rc) rc = write_all(sj->path, p->data, p->len);
    if (rc) {
        api_fail_engine(j, rc == ERR_FULL ? ERR_FULL : ERR_IO, "cannot store the upload");
        goto fail;
    }
    q->sj = sj;
    j->state = q;
    return;
fail:
    snap_job_free(sj);
}

const ApiRoute qdrant_snapshot_routes[] = {
    { "GET", "/collections/{collection_name}/snapshots", API_READ, NULL, list_run },
    { "POST", "/collections/{collection_name}/snapshots", API_ASYNC, create_prepare, queued_run },
    { "GET", "/collections/{collection_name}/snapshots/{snapshot_name}", API_ASYNC,
      download_prepare, download_run },
    { "DELETE", "/collections/{collection_name}/snapshots/{snapshot_name}", API_ASYNC,
      delete_prepare, delete_run },
    { "PUT", "/collections/{collection_name}/snapshots/recover", API_ASYNC, recover_prepare,
      queued_run },
    { "POST", "/collections/{collection_name}/snapshots/upload", API_ASYNC | API_RAW_BODY, upload_prepare,
      queued_run },
    /* Shard snapshots: shard 0, the collection's one shard. */
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshots", API_READ, NULL, list_run },
    { "POST", "/collections/{collection_name}/shards/{shard_id}/snapshots", API_ASYNC, create_prepare,
      queued_run },
    { "GET", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", API_ASYNC,
      download_prepare, download_run },
    { "DELETE", "/collections/{collection_name}/shards/{shard_id}/snapshots/{snapshot_name}", API_ASYNC,
      delete_prepare, delete_run },
    { "PUT", "/collections/{collection_name}/shards/{shard_id}/snapshots/recover", API_ASYNC,
      shard_recover_prepare, queued_run },
    { "POST", "/collections/{collection_name}/shards/{shard_id}/snapshots/upload", API_ASYNC | API_RAW_BODY,
      upload_prepare, queued_run },
    /* Full snapshots: the whole database. */
    { "GET", "/snapshots", API_READ, NULL, list_run },
    { "POST", "/snapshots", API_ASYNC, create_prepare, queued_run },
    { "GET", "/snapshots/{snapshot_name}", API_ASYNC, download_prepare, download_run },
    { "DELETE", "/snapshots/{snapshot_name}", API_ASYNC, delete_prepare, delete_run },
    { NULL, NULL, 0, NULL, NULL },
};
