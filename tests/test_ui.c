/*
 * test_ui.c - the web page's module: which Accept headers count as a
 * browser asking for a page (the real headers browsers and API clients
 * send, as listed in MDN's "List of default Accept values" and in the
 * clients' sources), and that the binary carries exactly the page's files
 * as they are in src/api/ui/ (read here from the disk, the reference).
 */
#include "api/ui.h"
#include "base/util.h"
#include "harness.h"

TEST(test_accept_browsers)
{
    /* Firefox 92+ and Chrome / Edge / Safari, navigating to a page. */
    ASSERT_EQ_INT(ui_accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,"
                                  "image/avif,image/webp,*/*;q=0.8"), 1);
    ASSERT_EQ_INT(ui_accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,"
                                  "image/avif,image/webp,image/apng,*/*;q=0.8,"
                                  "application/signed-exchange;v=b3;q=0.7"), 1);
    ASSERT_EQ_INT(ui_accepts_html("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"), 1);
    /* Case and spacing do not matter; a quality above zero still asks. */
    ASSERT_EQ_INT(ui_accepts_html("application/json; q=1, TEXT/HTML ;q=0.5"), 1);
}

TEST(test_accept_api_clients)
{
    /* curl, Python requests, Node's fetch, Qdrant's and OpenAI's clients. */
    ASSERT_EQ_INT(ui_accepts_html(NULL), 0);
    ASSERT_EQ_INT(ui_accepts_html(""), 0);
    ASSERT_EQ_INT(ui_accepts_html("*/*"), 0);
    ASSERT_EQ_INT(ui_accepts_html("application/json"), 0);
    ASSERT_EQ_INT(ui_accepts_html("application/json, text/plain, */*"), 0);
    /* text/html refused outright (q=0), or only as a prefix of another type. */
    ASSERT_EQ_INT(ui_accepts_html("text/html;q=0, application/json"), 0);
    ASSERT_EQ_INT(ui_accepts_html("text/html;level=1;q=0"), 0);
    ASSERT_EQ_INT(ui_accepts_html("text/htmlx"), 0);
    ASSERT_EQ_INT(ui_accepts_html("text/*"), 0);
}

TEST(test_assets_are_the_files)
{
    const char *names[] = { "index.html", "ui.css", "ui.js", "icon.svg" };
    size_t n = 0;
    for (const UiAsset *a = ui_assets; a->name; a++) n++;
    ASSERT_EQ_INT(n, ARRAY_LEN(names));
    for (size_t i = 0; i < ARRAY_LEN(names); i++) {
        char path[256];
        snprintf(path, sizeof path, "src/api/ui/%s", names[i]);
        char *text;
        size_t len;
        ASSERT_EQ_INT(file_read_all(path, 1 << 20, &text, &len), 0);
        const UiAsset *a = ui_assets;
        while (a->name && strcmp(a->name, names[i])) a++;
        ASSERT_TRUE(a->name != NULL);
        ASSERT_EQ_INT(a->len, len);
        ASSERT_TRUE(memcmp(a->data, text, len) == 0);
        /* The generator ends each file with a NUL it does not count. */
        ASSERT_EQ_INT(a->data[len], 0);
        free(text);
    }
}

int main(void)
{
    RUN(test_accept_browsers);
    RUN(test_accept_api_clients);
    RUN(test_assets_are_the_files);
    return harness_report(__FILE__);
}
