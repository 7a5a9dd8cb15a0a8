/*
 * test_filter_geo.c - geo filters: geo_bounding_box, geo_radius and
 * geo_polygon (src/index/geo.c, and their JSON in src/index/filter.c).
 *
 * References, none of them the code under test:
 * - distances: the haversine formula evaluated here in its atan2 form
 *   (Vincenty's formula on a sphere, well conditioned everywhere), and
 *   values quoted from the geo crate's and Qdrant's own tests;
 * - boxes and hand-made polygons: expected answers written by hand from
 *   the rules of Qdrant's GeoBoundingBox::check_point and geo's
 *   Polygon::contains (strict inside; edges, vertices and hole rings are
 *   outside), and Qdrant's test_geo_polygon_check_point and
 *   tests/openapi/test_geo_filter.py cases;
 * - orientation and random polygons: exact integer arithmetic on grid
 *   coordinates (every coordinate k / 2^s is exact in a double), with a
 *   crossing-number point-in-polygon, not the winding number geo uses.
 *
 * JSON is written with single quotes; J() turns them into double quotes.
 */
#include "index/filter.h"
#include "index/geo.h"

#include <float.h>

#include "base/err.h"
#include "harness.h"

static Arena arena;

static const JsonValue *J(const char *text)
{
    size_t n = strlen(text);
    char *t = arena_alloc(&arena, n + 1);
    for (size_t i = 0; i <= n; i++) t[i] = text[i] == '\'' ? '"' : text[i];
    JsonValue *v = NULL;
    char err[128];
    if (json_parse(&arena, t, n, &v, err, sizeof err) != 0) {
        printf("  bad test JSON %s: %s\n", t, err);
        fflush(stdout);
        abort();
    }
    return v;
}

/* matching returns, as a bit set, which payloads (ids 1..n) pass filter:
 * bit i-1 for id i; 0xdead when the filter does not compile. */
static unsigned matching(const char *filter, const char *const *payloads, size_t n)
{
    Filter *f = NULL;
    char err[256];
    if (filter_compile(J(filter), &f, err, sizeof err) != 0) {
        printf("  filter did not compile: %s\n", err);
        return 0xdeadu;
    }
    unsigned bits = 0;
    for (size_t i = 0; i < n; i++) {
        PointId id = point_id_num(i + 1);
        if (filter_match(f, &id, J(payloads[i]))) bits |= 1u << i;
    }
    filter_free(f);
    return bits;
}

#define IDS1(a) (1u << ((a) - 1))

static const char *compile_err(const char *filter, int expect_rc)
{
    static char err[320];
    Filter *f = NULL;
    int rc = filter_compile(J(filter), &f, err, sizeof err);
    if (rc != expect_rc) snprintf(err, sizeof err, "(returned %d, expected %d)", rc, expect_rc);
    filter_free(f);
    return err;
}

static GeoPoint P(double lon, double lat)
{
    return (GeoPoint){ lon, lat };
}

/* ---- distances ---- */

#define TEST_PI 3.14159265358979323846
#define TEST_R 6371008.8 /* the geo crate's mean Earth radius */

/* ref_distance: great-circle distance by Vincenty's formula on a sphere. */
static double ref_distance(GeoPoint a, GeoPoint b)
{
    double p1 = a.lat * TEST_PI / 180, p2 = b.lat * TEST_PI / 180;
    double dl = (b.lon - a.lon) * TEST_PI / 180;
    double x = cos(p2) * sin(dl);
    double y = cos(p1) * sin(p2) - sin(p1) * cos(p2) * cos(dl);
    double z = sin(p1) * sin(p2) + cos(p1) * cos(p2) * cos(dl);
    return TEST_R * atan2(sqrt(x * x + y * y), z);
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

/* uniform in [lo, hi] */
static double rnd_in(double lo, double hi)
{
    return lo + (hi - lo) * ((double)(rnd() >> 11) / 9007199254740992.0);
}

TEST(test_haversine)
{
    /* geo: HaversineMeasure distance doc test, New York to London. */
    ASSERT_EQ_INT(llround(geo_haversine_m(P(-74.006, 40.7128), P(-0.1278, 51.5074))), 5570230);
    /* qdrant: types.rs test_geo_boundingbox_check_point comments. */
    ASSERT_NEAR(geo_haversine_m(P(0, 0), P(0.5, 0.5)), 78626.29627999048, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(0, 0), P(1.5, 1.5)), 235866.91169814655, 1e-6);
    /* One degree of a great circle is R * pi / 180, also from a pole and
     * across the antimeridian; every meridian meets at the pole. */
    double deg = TEST_R * TEST_PI / 180;
    ASSERT_NEAR(geo_haversine_m(P(0, 90), P(123, 89)), deg, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(0, -90), P(-45, -89)), deg, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(179.5, 0), P(-179.5, 0)), deg, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(-180, 10), P(180, 10)), 0, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(0, 90), P(77, 90)), 0, 1e-6);
    ASSERT_NEAR(geo_haversine_m(P(0, 0), P(180, 0)), TEST_R * TEST_PI, 1e-3);
    /* Random pairs against the independent formula. Haversine's asin
     * loses digits near antipodes (about 0.1 m); a wrong Earth radius
     * (6371000 instead of 6371008.8) would be off by meters. */
    for (int i = 0; i < 20000; i++) {
        GeoPoint a = P(rnd_in(-180, 180), rnd_in(-90, 90)), b = P(rnd_in(-180, 180), rnd_in(-90, 90));
        ASSERT_NEAR(geo_haversine_m(a, b), ref_distance(a, b), 0.5);
    }
}

TEST(test_radius)
{
    /* qdrant: types.rs test_geo_radius_check_point. */
    GeoRadius r = { P(0, 0), 80000 };
    ASSERT_TRUE(geo_radius_contains(&r, P(0.5, 0.5)));
    ASSERT_TRUE(!geo_radius_contains(&r, P(1.5, 1.5)));
    /* Strictly below the radius: the center is not within radius 0. */
    GeoRadius zero = { P(10, 20), 0 };
    ASSERT_TRUE(!geo_radius_contains(&zero, P(10, 20)));
    GeoRadius tiny = { P(10, 20), 1e-9 };
    ASSERT_TRUE(geo_radius_contains(&tiny, P(10, 20)));
    GeoRadius neg = { P(10, 20), -5 };
    ASSERT_TRUE(!geo_radius_contains(&neg, P(10, 20)));
    /* Around a pole and across the antimeridian: a degree is 111195.08 m. */
    GeoRadius pole = { P(0, 90), 111196 };
    ASSERT_TRUE(geo_radius_contains(&pole, P(-150, 89)));
    pole.radius = 111194;
    ASSERT_TRUE(!geo_radius_contains(&pole, P(-150, 89)));
    GeoRadius am = { P(179.9, 0), 25000 };
    ASSERT_TRUE(geo_radius_contains(&am, P(-179.9, 0)));
    ASSERT_TRUE(!geo_radius_contains(&am, P(-179.6, 0)));
    /* Random points against the reference, away from the rim where the
     * two formulas' last bits could disagree. */
    int inside = 0;
    for (int i = 0; i < 20000; i++) {
        GeoRadius g = { P(rnd_in(-180, 180), rnd_in(-90, 90)), rnd_in(1, 3e6) };
        GeoPoint p = P(g.center.lon + rnd_in(-40, 40), g.center.lat + rnd_in(-30, 30));
        if (p.lon > 180) p.lon -= 360;
        if (p.lon < -180) p.lon += 360;
        if (p.lat > 90 || p.lat < -90) continue;
        double d = ref_distance(g.center, p);
        if (fabs(d - g.radius) < 1) continue;
        ASSERT_EQ_INT(geo_radius_contains(&g, p), d < g.radius);
        inside += d < g.radius;
    }
    ASSERT_TRUE(inside > 1000);
}

/* ---- boxes ---- */

TEST(test_box)
{
    /* qdrant: types.rs test_geo_boundingbox_check_point. */
    GeoBox b = { P(-1, 1), P(1, -1) };
    ASSERT_TRUE(geo_box_contains(&b, P(-0.5, 0.5)));
    ASSERT_TRUE(!geo_box_contains(&b, P(1.5, 1.5)));
    /* Edges and corners are outside (strict inequalities). */
    ASSERT_TRUE(!geo_box_contains(&b, P(-1, 0)));
    ASSERT_TRUE(!geo_box_contains(&b, P(1, 0)));
    ASSERT_TRUE(!geo_box_contains(&b, P(0, 1)));
    ASSERT_TRUE(!geo_box_contains(&b, P(0, -1)));
    ASSERT_TRUE(!geo_box_contains(&b, P(1, 1)));
    ASSERT_TRUE(geo_box_contains(&b, P(nextafter(-1, 0), nextafter(1, 0))));
    /* qdrant: test_geo_boundingbox_antimeridian_check_point (the USA,
     * from 167 E eastwards to 66.9 W): New York in, Berlin out. */
    GeoBox usa = { P(167.0, 74.071028), P(-66.885417, 18.7763) };
    ASSERT_TRUE(geo_box_contains(&usa, P(-73.991516, 40.75798)));
    ASSERT_TRUE(!geo_box_contains(&usa, P(13.41053, 52.52437)));
    /* Across the antimeridian: both sides of 180, the meridian itself in
     * either spelling; the edges and the far side out. */
    GeoBox am = { P(170, 10), P(-170, -10) };
    ASSERT_TRUE(geo_box_contains(&am, P(175, 0)));
    ASSERT_TRUE(geo_box_contains(&am, P(-175, 0)));
    ASSERT_TRUE(geo_box_contains(&am, P(180, 0)));
    ASSERT_TRUE(geo_box_contains(&am, P(-180, 0)));
    ASSERT_TRUE(!geo_box_contains(&am, P(170, 0)));
    ASSERT_TRUE(!geo_box_contains(&am, P(-170, 0)));
    ASSERT_TRUE(!geo_box_contains(&am, P(0, 0)));
    ASSERT_TRUE(!geo_box_contains(&am, P(175, 10)));
    /* Equal longitudes are not a wrap: nothing is strictly between. */
    GeoBox line = { P(20, 10), P(20, -10) };
    ASSERT_TRUE(!geo_box_contains(&line, P(20, 0)));
    ASSERT_TRUE(!geo_box_contains(&line, P(-160, 0)));
    /* Top below bottom selects nothing. */
    GeoBox upside = { P(-10, -5), P(10, 5) };
    ASSERT_TRUE(!geo_box_contains(&upside, P(0, 0)));
    /* The whole globe: the poles and the +-180 meridian are its edges. */
    GeoBox globe = { P(-180, 90), P(180, -90) };
    ASSERT_TRUE(geo_box_contains(&globe, P(0, 0)));
    ASSERT_TRUE(geo_box_contains(&globe, P(179.999, 89.999)));
    ASSERT_TRUE(!geo_box_contains(&globe, P(0, 90)));
    ASSERT_TRUE(!geo_box_contains(&globe, P(0, -90)));
    ASSERT_TRUE(!geo_box_contains(&globe, P(180, 0)));
    ASSERT_TRUE(!geo_box_contains(&globe, P(-180, 0)));
}

/* ---- orientation ---- */

/* Grid coordinates: k / 2^44 degrees, exact in a double for |k| <= 180 * 2^44. */
#define GRID_SHIFT 44

static int64_t grid_k(double lim)
{
    int64_t span = (int64_t)(lim * (double)(1ll << GRID_SHIFT));
    return (int64_t)(rnd() % (uint64_t)(2 * span + 1)) - span;
}

static double grid_v(int64_t k)
{
    return ldexp((double)k, -GRID_SHIFT);
}

/* ref_orient: the sign of (a - c) x (b - c) in 128-bit integers. */
static int ref_orient(const int64_t a[2], const int64_t b[2], const int64_t c[2])
{
    __int128 l = (__int128)(a[0] - c[0]) * (b[1] - c[1]);
    __int128 r = (__int128)(a[1] - c[1]) * (b[0] - c[0]);
    return (l > r) - (l < r);
}

TEST(test_orient2d)
{
    ASSERT_EQ_INT(geo_orient2d(P(0, 0), P(1, 0), P(0, 1)), 1);
    ASSERT_EQ_INT(geo_orient2d(P(0, 0), P(1, 0), P(0, -1)), -1);
    ASSERT_EQ_INT(geo_orient2d(P(0, 0), P(1, 1), P(7, 7)), 0);
    /* Points within a few grid steps of a long line through two random
     * points: the double determinant is at the mercy of rounding here. */
    int naive_wrong = 0, zeros = 0;
    for (int i = 0; i < 200000; i++) {
        int64_t a[2] = { grid_k(180), grid_k(90) }, b[2] = { grid_k(180), grid_k(90) }, c[2];
        double t = rnd_in(-0.5, 1.5);
        for (int d = 0; d < 2; d++) {
            double v = (double)a[d] + t * (double)(b[d] - a[d]);
            c[d] = (int64_t)llround(v) + (int64_t)(rnd() % 7) - 3;
            int64_t lim = (d == 0 ? 180ll : 90ll) << GRID_SHIFT;
            if (c[d] > lim) c[d] = lim;
            if (c[d] < -lim) c[d] = -lim;
        }
        /* Some exactly on the line: the midpoint when it is on the grid. */
        if (i % 4 == 0 && (a[0] + b[0]) % 2 == 0 && (a[1] + b[1]) % 2 == 0) {
            c[0] = (a[0] + b[0]) / 2;
            c[1] = (a[1] + b[1]) / 2;
        }
        GeoPoint pa = P(grid_v(a[0]), grid_v(a[1])), pb = P(grid_v(b[0]), grid_v(b[1]));
        GeoPoint pc = P(grid_v(c[0]), grid_v(c[1]));
        int want = ref_orient(a, b, c);
        ASSERT_EQ_INT(geo_orient2d(pa, pb, pc), want);
        double naive = (pa.lon - pc.lon) * (pb.lat - pc.lat) - (pa.lat - pc.lat) * (pb.lon - pc.lon);
        naive_wrong += ((naive > 0) - (naive < 0)) != want;
        zeros += want == 0;
    }
    /* The cases are hard ones: a plain double determinant gets some wrong. */
    printf("  near-collinear: %d exactly collinear, naive determinant wrong %d times\n", zeros, naive_wrong);
    ASSERT_TRUE(naive_wrong > 0 && zeros > 1000);
}

/* ---- polygons ---- */

typedef struct {
    GeoPoint pts[16];
    GeoRing ring;
} TestRing;

/* ring_of builds a ring from (lon, lat) pairs; the test's rings are valid. */
static void ring_of(TestRing *r, const double *xy, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) r->pts[i] = P(xy[2 * i], xy[2 * i + 1]);
    char err[160];
    if (geo_ring_init(r->pts, n, &r->ring, err, sizeof err) != 0) {
        printf("  bad test ring: %s\n", err);
        abort();
    }
}

static int in_polygon(const double *ext, uint32_t n_ext, const double *hole, uint32_t n_hole, GeoPoint p)
{
    TestRing e, h;
    ring_of(&e, ext, n_ext);
    GeoPolygon poly = { e.ring, NULL, 0 };
    if (hole) {
        ring_of(&h, hole, n_hole);
        poly.interiors = &h.ring;
        poly.n_interiors = 1;
    }
    return geo_polygon_contains(&poly, p);
}

TEST(test_polygon_hand_made)
{
    /* qdrant: types.rs test_geo_polygon_check_point, case 1: a square. */
    static const double sq[] = { -1, -1, 1, -1, 1, 1, -1, 1, -1, -1 };
    ASSERT_TRUE(in_polygon(sq, 5, NULL, 0, P(0.5, 0.5)));
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(1.5, 1.5)));
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(1.0, 0.0)));
    /* Every edge, every vertex: outside. Just inside: inside. */
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(0, -1)));  /* bottom, horizontal */
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(0, 1)));   /* top, horizontal */
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(-1, 0.3))); /* left, vertical */
    for (int i = 0; i < 4; i++) ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(sq[2 * i], sq[2 * i + 1])));
    ASSERT_TRUE(in_polygon(sq, 5, NULL, 0, P(nextafter(-1, 0), nextafter(1, 0))));
    ASSERT_TRUE(!in_polygon(sq, 5, NULL, 0, P(nextafter(-1, -2), 0)));
    /* The same square clockwise gives the same answers. */
    static const double sq_cw[] = { -1, -1, -1, 1, 1, 1, 1, -1, -1, -1 };
    ASSERT_TRUE(in_polygon(sq_cw, 5, NULL, 0, P(0.5, 0.5)));
    ASSERT_TRUE(!in_polygon(sq_cw, 5, NULL, 0, P(1.0, 0.0)));
    ASSERT_TRUE(!in_polygon(sq_cw, 5, NULL, 0, P(1.5, 0.0)));

    /* qdrant: case 2, a "twisted square" (a bowtie): the right lobe is
     * in, the top and the crossing point are not. */
    static const double tw[] = { -1, -1, 1, 1, 1, -1, -1, 1, -1, -1 };
    ASSERT_TRUE(in_polygon(tw, 5, NULL, 0, P(0.5, 0.0)));
    ASSERT_TRUE(!in_polygon(tw, 5, NULL, 0, P(0.0, 0.5)));
    ASSERT_TRUE(!in_polygon(tw, 5, NULL, 0, P(0.0, 0.0)));
    ASSERT_TRUE(in_polygon(tw, 5, NULL, 0, P(-0.5, 0.0)));

    /* qdrant: case 3, a square with a square hole. */
    static const double ex[] = { -1, -1, 1.5, -1, 1.5, 1.5, -1, 1.5, -1, -1 };
    static const double ho[] = { -0.5, -0.5, -0.5, 0.5, 0.5, 0.5, 0.5, -0.5, -0.5, -0.5 };
    ASSERT_TRUE(in_polygon(ex, 5, ho, 5, P(0.6, 0.6)));
    ASSERT_TRUE(!in_polygon(ex, 5, ho, 5, P(0.0, 0.0)));
    ASSERT_TRUE(!in_polygon(ex, 5, ho, 5, P(0.5, 0.5)));  /* a hole's vertex */
    ASSERT_TRUE(!in_polygon(ex, 5, ho, 5, P(0.5, 0.0)));  /* a hole's edge */
    ASSERT_TRUE(!in_polygon(ex, 5, ho, 5, P(0.0, -0.5))); /* a hole's horizontal edge */
    ASSERT_TRUE(in_polygon(ex, 5, ho, 5, P(-0.75, 0.0)));
    ASSERT_TRUE(!in_polygon(ex, 5, ho, 5, P(1.5, 0.0)));

    /* A triangle with a slanted edge through exact points (0,0)-(4,2):
     * (2,1) and (1,0.5) lie on it, a grid step off does not. */
    static const double tri[] = { 0, 0, 4, 2, 0, 2, 0, 0 };
    ASSERT_TRUE(!in_polygon(tri, 4, NULL, 0, P(2, 1)));
    ASSERT_TRUE(!in_polygon(tri, 4, NULL, 0, P(1, 0.5)));
    ASSERT_TRUE(in_polygon(tri, 4, NULL, 0, P(1, nextafter(0.5, 1))));
    ASSERT_TRUE(!in_polygon(tri, 4, NULL, 0, P(1, nextafter(0.5, 0))));
    ASSERT_TRUE(!in_polygon(tri, 4, NULL, 0, P(5, 1))); /* the edge's line, beyond the segment */

    /* A U shape: the notch is outside; the ray from a point in the left
     * arm at the height of the notch's floor grazes two vertices. */
    static const double u[] = { 0, 0, 3, 0, 3, 3, 2, 3, 2, 1, 1, 1, 1, 3, 0, 3, 0, 0 };
    ASSERT_TRUE(!in_polygon(u, 9, NULL, 0, P(1.5, 2)));
    ASSERT_TRUE(in_polygon(u, 9, NULL, 0, P(0.5, 2)));
    ASSERT_TRUE(in_polygon(u, 9, NULL, 0, P(2.5, 2)));
    ASSERT_TRUE(in_polygon(u, 9, NULL, 0, P(0.5, 1)));
    ASSERT_TRUE(!in_polygon(u, 9, NULL, 0, P(1.5, 1))); /* on the notch's floor */
    ASSERT_TRUE(in_polygon(u, 9, NULL, 0, P(1.5, 0.5)));
    ASSERT_TRUE(!in_polygon(u, 9, NULL, 0, P(-0.5, 1)));

    /* The whole lon/lat plane (test_geo_filter.py): the poles and the
     * +-180 meridians are its boundary. */
    static const double all[] = { -180, -90, 180, -90, 180, 90, -180, 90, -180, -90 };
    ASSERT_TRUE(in_polygon(all, 5, NULL, 0, P(0, 0)));
    ASSERT_TRUE(in_polygon(all, 5, NULL, 0, P(-179.999, 89.999)));
    ASSERT_TRUE(!in_polygon(all, 5, NULL, 0, P(0, 90)));
    ASSERT_TRUE(!in_polygon(all, 5, NULL, 0, P(180, 0)));
    /* Polygons are planar in lon/lat: one spanning 170 E to 170 W the
     * short way has to go through 0, and the antimeridian is outside. */
    static const double wide[] = { -170, -10, 170, -10, 170, 10, -170, 10, -170, -10 };
    ASSERT_TRUE(in_polygon(wide, 5, NULL, 0, P(0, 0)));
    ASSERT_TRUE(!in_polygon(wide, 5, NULL, 0, P(175, 0)));
}

TEST(test_ring_init)
{
    char err[160];
    GeoPoint pts[6] = { P(0, 0), P(1, 0), P(0, 1), P(0, 0) };
    GeoRing r;
    ASSERT_OK(geo_ring_init(pts, 4, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 4);
    ASSERT_EQ_INT(geo_ring_init(pts, 3, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Validation failed: polygon invalid, the size must be at least 4, got 3");
    pts[3] = P(0, 1e-9);
    ASSERT_EQ_INT(geo_ring_init(pts, 4, &r, err, sizeof err), ERR_INVAL);
    ASSERT_STR_EQ(err, "Validation failed: polygon invalid, the first and the last points should be the "
                       "same to form a closed line");
    /* Within f64::EPSILON the ring is accepted and closed exactly by one
     * more point (geo's LineString::close), so the test stays a ring. */
    pts[3] = P(DBL_EPSILON, 0);
    ASSERT_OK(geo_ring_init(pts, 4, &r, err, sizeof err));
    ASSERT_EQ_INT(r.n, 5);
    ASSERT_TRUE(r.points[4].lon == 0 && r.points[4].lat == 0);
    pts[3] = P(2 * DBL_EPSILON, 0);
    ASSERT_EQ_INT(geo_ring_init(pts, 4, &r, err, sizeof err), ERR_INVAL);
}

/* ---- random polygons against an exact crossing-number test ---- */

/* Integer grid coordinates, degrees * 2^10 (exact doubles). */
#define PG_SCALE 1024.0
#define PG_MAX_VERTS 24

typedef struct {
    int64_t x, y;
} IPt;

/* ref_ring: 2 on the boundary, 1 inside, 0 outside, by the even-odd rule
 * with exact integer arithmetic (the rings built below are simple). */
static int ref_ring(const IPt *v, int n, IPt p)
{
    int inside = 0;
    for (int i = 0, j = n - 1; i < n; j = i++) {
        IPt a = v[j], b = v[i];
        int64_t cross = (b.x - a.x) * (p.y - a.y) - (b.y - a.y) * (p.x - a.x);
        if (cross == 0 && p.x >= MIN(a.x, b.x) && p.x <= MAX(a.x, b.x) && p.y >= MIN(a.y, b.y) &&
            p.y <= MAX(a.y, b.y))
            return 2;
        if ((a.y > p.y) != (b.y > p.y)) {
            /* Crossing right of p: p.x < a.x + (p.y - a.y) (b.x - a.x) / (b.y - a.y). */
            int64_t dy = b.y - a.y;
            int64_t lhs = (p.x - a.x) * dy, rhs = (p.y - a.y) * (b.x - a.x);
            if (dy > 0 ? lhs < rhs : lhs > rhs) inside = !inside;
        }
    }
    return inside;
}

/* star_ring makes a simple polygon: vertices at distinct angles around c,
 * in angle order, c inside (a star-shaped polygon); 0 when the draw
 * would not be one. */
static int star_ring(IPt c, int64_t rmin, int64_t rmax, IPt *v)
{
    int n = 3 + (int)(rnd() % (PG_MAX_VERTS - 3));
    double ang[PG_MAX_VERTS];
    for (int i = 0; i < n; i++) {
        int64_t r = rmin + (int64_t)(rnd() % (uint64_t)(rmax - rmin + 1));
        double t = rnd_in(0, 2 * TEST_PI);
        v[i] = (IPt){ c.x + llround(r * cos(t)), c.y + llround(r * sin(t)) };
        ang[i] = atan2((double)(v[i].y - c.y), (double)(v[i].x - c.x));
    }
    /* Sort by angle (insertion sort), dropping equal angles. */
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && ang[j] < ang[j - 1]; j--) {
            double ta = ang[j];
            ang[j] = ang[j - 1];
            ang[j - 1] = ta;
            IPt tv = v[j];
            v[j] = v[j - 1];
            v[j - 1] = tv;
        }
    int m = 0;
    for (int i = 0; i < n; i++)
        if (m == 0 || ang[i] != ang[m - 1]) {
            ang[m] = ang[i];
            v[m++] = v[i];
        }
    /* Every angular gap below 180 degrees keeps each edge inside its own
     * wedge, so edges meet only at shared vertices; refuse other draws. */
    for (int i = 0; i < m; i++) {
        double gap = i + 1 < m ? ang[i + 1] - ang[i] : ang[0] + 2 * TEST_PI - ang[i];
        if (gap >= TEST_PI - 1e-6) return 0;
    }
    return m;
}

static GeoPoint to_geo(IPt p)
{
    return P((double)p.x / PG_SCALE, (double)p.y / PG_SCALE);
}

TEST(test_polygon_random)
{
    int counts[3] = { 0, 0, 0 };
    for (int round = 0; round < 400; round++) {
        IPt c = { (int64_t)(rnd() % 200000) - 100000, (int64_t)(rnd() % 60000) - 30000 };
        IPt ev[PG_MAX_VERTS], hv[PG_MAX_VERTS];
        int ne = star_ring(c, 2000, 40000, ev);
        int nh = round % 2 ? star_ring(c, 100, 1500, hv) : 0;
        if (ne < 3 || (round % 2 && nh < 3)) continue;
        GeoPoint ept[PG_MAX_VERTS + 2], hpt[PG_MAX_VERTS + 2];
        for (int i = 0; i < ne; i++) ept[i] = to_geo(ev[i]);
        ept[ne] = ept[0];
        for (int i = 0; i < nh; i++) hpt[i] = to_geo(hv[i]);
        hpt[nh] = hpt[0];
        GeoRing hole;
        GeoPolygon poly = { .n_interiors = nh ? 1 : 0, .interiors = &hole };
        char err[160];
        ASSERT_OK(geo_ring_init(ept, (uint32_t)ne + 1, &poly.exterior, err, sizeof err));
        if (nh) ASSERT_OK(geo_ring_init(hpt, (uint32_t)nh + 1, &hole, err, sizeof err));
        for (int k = 0; k < 400; k++) {
            IPt p;
            int kind = k % 4;
            if (kind == 0) { /* anywhere near the polygon */
                p = (IPt){ c.x + (int64_t)(rnd() % 90001) - 45000, c.y + (int64_t)(rnd() % 90001) - 45000 };
            } else if (kind == 1) { /* near the hole */
                p = (IPt){ c.x + (int64_t)(rnd() % 4001) - 2000, c.y + (int64_t)(rnd() % 4001) - 2000 };
            } else if (kind == 2) { /* at a vertex's height: rays through vertices */
                const IPt *src = nh && (rnd() & 1) ? hv : ev;
                int cnt = src == hv ? nh : ne;
                p = (IPt){ c.x + (int64_t)(rnd() % 90001) - 45000, src[rnd() % (uint64_t)cnt].y };
            } else { /* on an edge: a grid point between two vertices, or a vertex */
                const IPt *src = nh && (rnd() & 1) ? hv : ev;
                int cnt = src == hv ? nh : ne;
                int i = (int)(rnd() % (uint64_t)cnt);
                IPt a = src[i], b = src[(i + 1) % cnt];
                int64_t g = llabs(b.x - a.x), h = llabs(b.y - a.y);
                while (h) {
                    int64_t t = g % h;
                    g = h;
                    h = t;
                }
                int64_t s = g ? (int64_t)(rnd() % (uint64_t)(g + 1)) : 0;
                p = g ? (IPt){ a.x + (b.x - a.x) / g * s, a.y + (b.y - a.y) / g * s } : a;
            }
            int e = ref_ring(ev, ne, p), h2 = nh ? ref_ring(hv, nh, p) : 0;
            int want = e == 1 && h2 == 0;
            counts[want ? 1 : (e == 2 || h2 == 2) ? 2 : 0]++;
            int got = geo_polygon_contains(&poly, to_geo(p));
            if (got != want)
                HARNESS_FAIL("round %d point (%lld, %lld): got %d, want %d (exterior %d, hole %d)", round,
                             (long long)p.x, (long long)p.y, got, want, e, h2);
        }
    }
    printf("  random polygons: %d outside, %d inside, %d on a ring\n", counts[0], counts[1], counts[2]);
    ASSERT_TRUE(counts[1] > 5000 && counts[2] > 5000);
}

/* ---- filters over payloads ---- */

/* The points of Qdrant's tests/openapi/helpers/collection_setup.py
 * geo_collection_setup (id 6 has no location). */
static const char *const geo_points[] = {
    "{'value': 1, 'location': {'lon': 50.5200, 'lat': 50.4050}}",
    "{'value': 2, 'location': {'lon': 60.5200, 'lat': 60.4050}}",
    "{'value': 3, 'location': {'lon': -60.5200, 'lat': -60.4050}}",
    "{'value': 4, 'location': {'lon': 80.5200, 'lat': 80.4050}}",
    "{'value': 5, 'location': {'lon': -72.5200, 'lat': -72.4050}}",
    "{'value': 6}",
};

TEST(test_qdrant_geo_filter_cases)
{
    /* qdrant: test_geo_filter.py test_geo_polygon_simple -> [2, 4]. */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'location', 'geo_polygon': {'exterior': {'points': ["
                           "{'lon': 55.455868, 'lat': 55.495862}, {'lon': 86.455868, 'lat': 55.495862},"
                           "{'lon': 86.455868, 'lat': 86.495862}, {'lon': 55.455868, 'lat': 86.495862},"
                           "{'lon': 55.455868, 'lat': 55.495862}]}, 'interiors': []}}]}", geo_points, 6),
                  IDS1(2) | IDS1(4));
    /* ... spanning negative to positive -> [1, 3]. */
    static const char *wide = "{'exterior': {'points': [{'lon': -70.0, 'lat': -70.0}, {'lon': 60.0, 'lat': -70.0},"
                              "{'lon': 60.0, 'lat': 60.0}, {'lon': -70.0, 'lat': 60.0}, {'lon': -70.0, 'lat': -70.0}]}";
    char f[1024];
    snprintf(f, sizeof f, "{'must': [{'key': 'location', 'geo_polygon': %s}}]}", wide);
    ASSERT_EQ_INT(matching(f, geo_points, 6), IDS1(1) | IDS1(3));
    /* test_geo_polygon_with_interiors -> [1]. */
    snprintf(f, sizeof f, "{'must': [{'key': 'location', 'geo_polygon': %s, 'interiors': [{'points': ["
                          "{'lon': -65.0, 'lat': -65.0}, {'lon': 0.0, 'lat': -65.0}, {'lon': 0.0, 'lat': 0.0},"
                          "{'lon': -65.0, 'lat': 0.0}, {'lon': -65.0, 'lat': -65.0}]}]}}]}", wide);
    ASSERT_EQ_INT(matching(f, geo_points, 6), IDS1(1));
    /* The whole lon/lat plane holds all five located points. */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'location', 'geo_polygon': {'exterior': {'points': ["
                           "{'lon': -180.0, 'lat': -90.0}, {'lon': 180.0, 'lat': -90.0}, {'lon': 180.0, 'lat': 90.0},"
                           "{'lon': -180.0, 'lat': 90.0}, {'lon': -180.0, 'lat': -90.0}]}}}]}", geo_points, 6),
                  0x1f);
    /* test_geo_polygon_multiple: should over two polygons -> [2, 4];
     * must over the same two -> []. */
    static const char *two = "{'key': 'location', 'geo_polygon': {'exterior': {'points': ["
                             "{'lon': 55.0, 'lat': 55.0}, {'lon': 65.0, 'lat': 55.0}, {'lon': 65.0, 'lat': 65.0},"
                             "{'lon': 55.0, 'lat': 65.0}, {'lon': 55.0, 'lat': 55.0}]}}},"
                             "{'key': 'location', 'geo_polygon': {'exterior': {'points': ["
                             "{'lon': 75.0, 'lat': 75.0}, {'lon': 85.0, 'lat': 75.0}, {'lon': 85.0, 'lat': 85.0},"
                             "{'lon': 75.0, 'lat': 85.0}, {'lon': 75.0, 'lat': 75.0}]}}";
    snprintf(f, sizeof f, "{'should': [%s}]}", two);
    ASSERT_EQ_INT(matching(f, geo_points, 6), IDS1(2) | IDS1(4));
    snprintf(f, sizeof f, "{'must': [%s}]}", two);
    ASSERT_EQ_INT(matching(f, geo_points, 6), 0);
    /* A box and a radius over the same points (by hand: 2 is the only
     * point in 55..65 x 55..65; 60.52,60.405 is 53.7 km from (60, 60)). */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'location', 'geo_bounding_box': {'top_left': {'lon': 55, 'lat': 65},"
                           "'bottom_right': {'lon': 65, 'lat': 55}}}]}", geo_points, 6), IDS1(2));
    ASSERT_EQ_INT(matching("{'must': [{'key': 'location', 'geo_radius': {'center': {'lon': 60, 'lat': 60},"
                           "'radius': 100000}}]}", geo_points, 6), IDS1(2));
    ASSERT_EQ_INT(matching("{'must': [{'key': 'location', 'geo_radius': {'center': {'lon': 60, 'lat': 60},"
                           "'radius': 50000}}]}", geo_points, 6), 0);
    /* must_not: every point without a match, the one without location too. */
    ASSERT_EQ_INT(matching("{'must_not': [{'key': 'location', 'geo_bounding_box': {'top_left': {'lon': 55, 'lat': 65},"
                           "'bottom_right': {'lon': 65, 'lat': 55}}}]}", geo_points, 6), 0x3f & ~IDS1(2));
}

TEST(test_payload_values)
{
    /* qdrant: condition_checker.rs test_geo_matching - an array of
     * locations matches when any does. */
    static const char *const bm[] = {
        "{'loc': [{'lat': 52.52197645, 'lon': 13.413637435864272}, {'lat': 55.7536283, 'lon': 37.62137960067377}]}",
    };
    ASSERT_EQ_INT(matching("{'must': [{'key': 'loc', 'geo_radius': {'center': {'lon': 13.413637, 'lat': 52.521976},"
                           "'radius': 2000.0}}]}", bm, 1), 1);
    ASSERT_EQ_INT(matching("{'must': [{'key': 'loc', 'geo_radius': {'center': {'lon': 20.423637, 'lat': 52.511},"
                           "'radius': 2000.0}}]}", bm, 1), 0);
    /* Values that are not {lon, lat} numbers never match (condition
     * checker: an object whose lon and lat are numbers); integers do;
     * extra members are fine; the path rules are filter.c's. */
    static const char *const vals[] = {
        "{'p': {'lon': 1, 'lat': 2}}",                 /* 1: integers */
        "{'p': {'lon': 1.5, 'lat': 2.5, 'alt': 100}}", /* 2: extra member */
        "{'p': {'lon': '1', 'lat': 2}}",               /* 3: a string */
        "{'p': {'lon': 1}}",                           /* 4: no lat */
        "{'p': [1, 2]}",                               /* 5: an array of numbers */
        "{'p': 'POINT(1 2)'}",                         /* 6 */
        "{'p': null}",                                 /* 7 */
        "{'q': {'p': {'lon': 1, 'lat': 2}}}",          /* 8: elsewhere */
        "{'p': [[{'lon': 1, 'lat': 2}]]}",             /* 9: arrays are flattened one level only */
        "{'p': [null, 'x', {'lon': 1.2, 'lat': 2.2}]}", /* 10: any element */
    };
    ASSERT_EQ_INT(matching("{'must': [{'key': 'p', 'geo_bounding_box': {'top_left': {'lon': 0, 'lat': 3},"
                           "'bottom_right': {'lon': 2, 'lat': 0}}}]}", vals, 10),
                  IDS1(1) | IDS1(2) | IDS1(10));
    /* Nested keys and array paths. */
    static const char *const nested[] = {
        "{'shop': {'geo': {'lon': 10, 'lat': 10}}}",
        "{'shops': [{'geo': {'lon': 50, 'lat': 50}}, {'geo': {'lon': 10.5, 'lat': 10.5}}]}",
        "{'shops': [{'geo': {'lon': 50, 'lat': 50}}]}",
    };
    static const char *box = "{'top_left': {'lon': 9, 'lat': 11}, 'bottom_right': {'lon': 11, 'lat': 9}}";
    char f[512];
    snprintf(f, sizeof f, "{'must': [{'key': 'shop.geo', 'geo_bounding_box': %s}]}", box);
    ASSERT_EQ_INT(matching(f, nested, 3), IDS1(1));
    snprintf(f, sizeof f, "{'must': [{'key': 'shops[].geo', 'geo_bounding_box': %s}]}", box);
    ASSERT_EQ_INT(matching(f, nested, 3), IDS1(2));
    snprintf(f, sizeof f, "{'must': [{'nested': {'key': 'shops', 'filter': {'must': [{'key': 'geo', "
                          "'geo_bounding_box': %s}]}}}]}", box);
    ASSERT_EQ_INT(matching(f, nested, 3), IDS1(2));
    /* Payload points are not range-checked (GeoPoint::new_unchecked): a
     * longitude of 200 is east of 170 for a box across the antimeridian. */
    static const char *const odd[] = { "{'p': {'lon': 200, 'lat': 0}}", "{'p': {'lon': 100, 'lat': 0}}" };
    ASSERT_EQ_INT(matching("{'must': [{'key': 'p', 'geo_bounding_box': {'top_left': {'lon': 170, 'lat': 10},"
                           "'bottom_right': {'lon': -170, 'lat': -10}}}]}", odd, 2), IDS1(1));
}

TEST(test_conditions_combined)
{
    /* One field condition with several tests passes when any passes
     * (FieldCondition::check_match ORs them). */
    static const char *const pts[] = {
        "{'p': {'lon': 0.5, 'lat': 0.5}}", /* in the box */
        "{'p': {'lon': 5, 'lat': 5}}",     /* in the radius only */
        "{'p': {'lon': 20, 'lat': 20}}",   /* neither */
        "{'p': 'here'}",                   /* matches the value */
    };
    ASSERT_EQ_INT(matching("{'must': [{'key': 'p', 'match': {'value': 'here'},"
                           "'geo_bounding_box': {'top_left': {'lon': 0, 'lat': 1}, 'bottom_right': {'lon': 1, 'lat': 0}},"
                           "'geo_radius': {'center': {'lon': 5, 'lat': 5}, 'radius': 1000}}]}", pts, 4),
                  IDS1(1) | IDS1(2) | IDS1(4));
    /* values_count decides alone when present (FieldCondition::check). */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'p', 'values_count': {'gte': 1},"
                           "'geo_radius': {'center': {'lon': 5, 'lat': 5}, 'radius': 1000}}]}", pts, 4), 0xf);
    /* null members are "not given". */
    ASSERT_EQ_INT(matching("{'must': [{'key': 'p', 'geo_polygon': null,"
                           "'geo_radius': {'center': {'lon': 5, 'lat': 5}, 'radius': 1000}}]}", pts, 4), IDS1(2));
}

TEST(test_compile_errors)
{
    /* GeoPolygon::validate_line_string's messages (a serde error in
     * Qdrant's REST API: 400 "Format error in JSON body"). */
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_polygon': {'exterior': {'points': [{'lon': -180, 'lat': -90},"
                              "{'lon': 180, 'lat': -90}, {'lon': -180, 'lat': -90}]}}}]}", ERR_INVAL),
                  "Validation failed: polygon invalid, the size must be at least 4, got 3 at "
                  "`filter.must[0].geo_polygon.exterior`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_polygon': {'exterior': {'points': [{'lon': -180, 'lat': -90},"
                              "{'lon': 180, 'lat': -90}, {'lon': 180, 'lat': 90}, {'lon': -180, 'lat': 90}]}}}]}",
                              ERR_INVAL),
                  "Validation failed: polygon invalid, the first and the last points should be the same to form "
                  "a closed line at `filter.must[0].geo_polygon.exterior`");
    ASSERT_STR_EQ(compile_err("{'should': {'key': 'l', 'geo_polygon': {'exterior': {'points': [{'lon': 0, 'lat': 0},"
                              "{'lon': 1, 'lat': 0}, {'lon': 0, 'lat': 1}, {'lon': 0, 'lat': 0}]},"
                              "'interiors': [{'points': []}]}}}", ERR_INVAL),
                  "Validation failed: polygon invalid, the size must be at least 4, got 0 at "
                  "`filter.should.geo_polygon.interiors[0]`");
    /* GeoPointValidationError, numbers printed as Rust prints an f64. */
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_radius': {'center': {'lon': 10, 'lat': 100}, 'radius': 1}}]}",
                              ERR_INVAL),
                  "Wrong format of GeoPoint payload: expected `lat` = 100 within [-90;90] and `lon` = 10 within "
                  "[-180;180] at `filter.must[0].geo_radius.center`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_bounding_box': {'top_left': {'lon': -180.25, 'lat': 0.5},"
                              "'bottom_right': {'lon': 1, 'lat': 0}}}]}", ERR_INVAL),
                  "Wrong format of GeoPoint payload: expected `lat` = 0.5 within [-90;90] and `lon` = -180.25 "
                  "within [-180;180] at `filter.must[0].geo_bounding_box.top_left`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_polygon': {'exterior': {'points': [{'lon': 0, 'lat': 0},"
                              "{'lon': 0, 'lat': -90.000001}]}}}]}", ERR_INVAL),
                  "Wrong format of GeoPoint payload: expected `lat` = -90.000001 within [-90;90] and `lon` = 0 "
                  "within [-180;180] at `filter.must[0].geo_polygon.exterior.points[1]`");
    /* The limits themselves are valid. */
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_bounding_box': {'top_left': {'lon': -180, 'lat': 90},"
                              "'bottom_right': {'lon': 180, 'lat': -90}}}]}", 0), "");
    /* Missing fields and wrong types. */
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_radius': {'center': {'lon': 1, 'lat': 2}}}]}", ERR_INVAL),
                  "missing field `radius` at `filter.must[0].geo_radius`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_radius': {'center': {'lat': 2}, 'radius': 5}}]}", ERR_INVAL),
                  "missing field `lon` at `filter.must[0].geo_radius.center`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_bounding_box': {'top_left': {'lon': 1, 'lat': 2}}}]}",
                              ERR_INVAL),
                  "missing field `bottom_right` at `filter.must[0].geo_bounding_box`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_polygon': {'interiors': []}}]}", ERR_INVAL),
                  "missing field `exterior` at `filter.must[0].geo_polygon`");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_radius': {'center': {'lon': '1', 'lat': 2}, 'radius': 5}}]}",
                              ERR_INVAL),
                  "filter.must[0].geo_radius.center.lon: expected a number, got a string");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_radius': [1, 2]}]}", ERR_INVAL),
                  "filter.must[0].geo_radius: expected an object {\"center\": ..., \"radius\": meters}, got an array");
    ASSERT_STR_EQ(compile_err("{'must': [{'key': 'l', 'geo_polygon': {'exterior': [{'lon': 1, 'lat': 2}]}}]}",
                              ERR_INVAL),
                  "filter.must[0].geo_polygon.exterior: expected an object {\"points\": [...]}, got an array");
}

TEST(test_format_degrees)
{
    /* Rust's Display for f64: shortest round-trip digits, no exponent. */
    char b[400];
    static const struct {
        double v;
        const char *s;
    } cases[] = {
        { 100, "100" },        { -0.5, "-0.5" },      { 90.000001, "90.000001" },
        { 0.1 + 0.2, "0.30000000000000004" },         { 1e-7, "0.0000001" },
        { 1e21, "1000000000000000000000" },           { -0.0, "-0" },
        { 0, "0" },            { 123.456, "123.456" }, { 1.5e-10, "0.00000000015" },
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        geo_format_degrees(b, sizeof b, cases[i].v);
        ASSERT_STR_EQ(b, cases[i].s);
    }
    geo_format_degrees(b, sizeof b, 1e300);
    ASSERT_EQ_INT(strlen(b), 301);
    ASSERT_TRUE(strtod(b, NULL) == 1e300);
}

int main(void)
{
    arena_init(&arena, 0);
    RUN(test_haversine);
    RUN(test_radius);
    RUN(test_box);
    RUN(test_orient2d);
    RUN(test_polygon_hand_made);
    RUN(test_ring_init);
    RUN(test_polygon_random);
    RUN(test_qdrant_geo_filter_cases);
    RUN(test_payload_values);
    RUN(test_conditions_combined);
    RUN(test_compile_errors);
    RUN(test_format_degrees);
    arena_free(&arena);
    return harness_report(__FILE__);
}
