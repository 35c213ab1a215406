#!/usr/bin/env python3
"""Write a C source that holds a file's bytes as a NUL-terminated array.

    embed.py INPUT OUTPUT SYMBOL

defines `const unsigned char SYMBOL[]` (the bytes, then a NUL) and
`const size_t SYMBOL_len` (the byte count without the NUL). Used by
service/meson.build to put openapi.json into the hoprec binary.
"""
import sys


def main():
    src, dst, name = sys.argv[1:4]
    with open(src, "rb") as f:
        data = f.read()
    lines = []
    for i in range(0, len(data), 16):
        lines.append("    " + ", ".join("0x%02x" % b for b in data[i:i + 16])
                     + ",")
    with open(dst, "w") as f:
        f.write("/* Generated from %s by service/embed.py. */\n" % src)
        f.write("#include <stddef.h>\n\n")
        f.write("extern const unsigned char %s[];\n" % name)
        f.write("extern const size_t %s_len;\n\n" % name)
        f.write("const unsigned char %s[] = {\n" % name)
        f.write("\n".join(lines))
        f.write("\n    0x00,\n};\n\n")
        f.write("const size_t %s_len = %d;\n" % (name, len(data)))


if __name__ == "__main__":
    main()
