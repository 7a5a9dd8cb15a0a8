/*
 * geo.h - the geometry of Qdrant's geo filters: bounding boxes, radii on
 * the sphere and polygons with holes, tested against {lon, lat} points.
 *
 * Every predicate here is the one Qdrant 1.17.1 evaluates, so that a
 * point on an edge, at a pole or across the antimeridian gets Qdrant's
 * answer, not a plausible one (lib/segment/src/types.rs: GeoBoundingBox,
 * GeoRadius and PolygonWrapper check_point; the polygon test and the
 * distance are the geo crate's, version 0.32):
 *   box      strict inequalities on both axes; top_left.lon >
 *            bottom_right.lon means the box crosses the antimeridian
 *   radius   haversine distance on a sphere of R = GEO_EARTH_RADIUS_M
 *            strictly below the radius
 *   polygon  the geo crate's winding-number test with an exact orientation
 *            predicate (robust::orient2d): inside the exterior ring and
 *            outside every interior ring; a point on any ring is outside
 * Coordinates are planar lon/lat degrees for boxes and polygons (no great
 * circle edges), as in Qdrant.
 *
 * This module parses nothing and allocates nothing: filter.c reads the
 * JSON into these structs, and a payload index may hand its stored points
 * straight to the predicates.
 */
#ifndef VITRINE_GEO_H
#define VITRINE_GEO_H

#include <stddef.h>
#include <stdint.h>

/* The geo crate's MEAN_EARTH_RADIUS (GRS80 R1, IUGG), in meters. */
#define GEO_EARTH_RADIUS_M 6371008.8
/* Points per ring Qdrant requires (a triangle plus the closing point). */
#define GEO_RING_MIN_POINTS 4

typedef struct {
    double lon, lat;
} GeoPoint;

typedef struct {
    GeoPoint top_left, bottom_right;
} GeoBox;

typedef struct {
    GeoPoint center;
    double radius; /* meters */
} GeoRadius;

typedef struct {
    const GeoPoint *points; /* closed: points[0] == points[n - 1] exactly */
    uint32_t n;
    GeoPoint min, max; /* bounding rectangle of the points */
} GeoRing;

typedef struct {
    GeoRing exterior;
    const GeoRing *interiors; /* holes */
    uint32_t n_interiors;
} GeoPolygon;

/* geo_point_valid: lon in [-180, 180] and lat in [-90, 90] (Qdrant's
 * GeoPoint::validate; NaN is invalid). */
int geo_point_valid(double lon, double lat);

/* geo_haversine_m is the geo crate's Haversine distance in meters, computed
 * in the same order of operations. */
double geo_haversine_m(GeoPoint a, GeoPoint b);

int geo_box_contains(const GeoBox *b, GeoPoint p);
int geo_radius_contains(const GeoRadius *r, GeoPoint p);
int geo_polygon_contains(const GeoPolygon *poly, GeoPoint p);

/*
 * geo_orient2d returns the exact sign of the orientation of (a, b, c):
 * +1 counterclockwise (c left of the directed line a->b), -1 clockwise,
 * 0 collinear. Exact for any finite doubles whose products neither
 * overflow nor underflow (true of degrees), as Shewchuk's predicate the
 * robust crate implements.
 */
int geo_orient2d(GeoPoint a, GeoPoint b, GeoPoint c);

/*
 * geo_ring_init checks points[0..n) as Qdrant checks a polygon ring
 * (GeoPolygon::validate_line_string) and fills *ring: ERR_INVAL with
 * Qdrant's message in err when there are fewer than GEO_RING_MIN_POINTS
 * points, or when the first and the last point differ by more than
 * DBL_EPSILON on an axis. points must have room for n + 1 entries: a ring
 * whose ends differ by at most DBL_EPSILON is closed with a copy of the
 * first point, as the geo crate's Polygon::new does.
 */
int geo_ring_init(GeoPoint *points, uint32_t n, GeoRing *ring, char *err, size_t errlen);

/*
 * geo_format_degrees writes v the way Rust's Display prints an f64 (the
 * shortest text that reads back as v, never an exponent: 100, -0.5,
 * 0.0000001), for Qdrant's error messages. Returns the length written.
 */
int geo_format_degrees(char *out, size_t n, double v);

#endif
