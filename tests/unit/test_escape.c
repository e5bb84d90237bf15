/* test_escape.c: sk_escape(), text a peer chose made safe to print (sockit/escape.h). */
#include <string.h>

#include "sockit/escape.h"
#include "t.h"

static const char *esc(const char *in, size_t n)
{
    static char out[256];
    size_t len = sk_escape(out, sizeof out, in, n);
    T_EQ_INT(len, strlen(out));
    T_EQ_INT(len, sk_escape_len(in, n));
    return out;
}

#define ESC(lit) esc(lit, sizeof lit - 1)

TEST(escape_printable_ascii_passes)
{
    T_EQ_STR(ESC("Connection received on 127.0.0.1:5000 [a\\b]"),
             "Connection received on 127.0.0.1:5000 [a\\b]");
    T_ASSERT(sk_escape_clean("hello world", 11));
}

TEST(escape_controls_are_spelled_out)
{
    T_EQ_STR(ESC("a\nConnection received on x"), "a\\nConnection received on x");
    T_EQ_STR(ESC("tag\rforged"), "tag\\rforged");
    T_EQ_STR(ESC("\x1b[2J\t\x7f"), "\\x1b[2J\\t\\x7f");
    T_EQ_STR(ESC("nul\0byte"), "nul\\x00byte");
    T_ASSERT(!sk_escape_clean("a\rb", 3));
}

TEST(escape_utf8_passes_c1_and_malformed_do_not)
{
    T_EQ_STR(ESC("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80"), "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80");
    T_EQ_STR(ESC("\x9b" "31m"), "\\x9b31m");          /* a raw C1 CSI */
    T_EQ_STR(ESC("\xc2\x9b" "31m"), "\\xc2\\x9b31m"); /* CSI encoded as UTF-8 */
    T_EQ_STR(ESC("\xc0\xaf"), "\\xc0\\xaf");          /* overlong */
    T_EQ_STR(ESC("\xed\xa0\x80"), "\\xed\\xa0\\x80"); /* a surrogate */
    T_EQ_STR(ESC("\xe6\x97"), "\\xe6\\x97");          /* truncated */
    T_EQ_STR(ESC("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80"); /* past U+10FFFF */
    T_ASSERT(sk_escape_clean("\xc3\xa9", 2));
}

TEST(escape_truncates_whole_pieces_only)
{
    char out[6];
    T_EQ_INT(sk_escape(out, 5, "ab\ncd", 5), 4);
    T_EQ_STR(out, "ab\\n");
    T_EQ_INT(sk_escape(out, 4, "ab\ncd", 5), 2); /* "\n" would not fit whole */
    T_EQ_STR(out, "ab");
    T_EQ_INT(sk_escape(out, sizeof out, "abc\x01", 4), 3); /* "\x01" needs 4 */
    T_EQ_STR(out, "abc");
    T_EQ_INT(sk_escape(out, 1, "abc", 3), 0);
    T_EQ_STR(out, "");
}

TEST(escape_max_always_suffices)
{
    unsigned char in[256];
    for (int i = 0; i < 256; i++)
        in[i] = (unsigned char)i;
    char out[SK_ESCAPE_MAX(256)];
    size_t n = sk_escape(out, sizeof out, in, sizeof in);
    T_EQ_INT(n, sk_escape_len(in, sizeof in));
    T_EQ_INT(n, strlen(out));
    for (size_t i = 0; i < n; i++)
        T_ASSERT((unsigned char)out[i] >= 0x20 && (unsigned char)out[i] < 0x7f);
}
