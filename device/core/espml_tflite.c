#include "espml_tflite.h"

/* Flatbuffer layout: a table starts with a signed offset back to its vtable; the vtable holds its
 * own size, the table's size, then one 16-bit offset per field (0: absent, take the default).
 * References (tables, vectors) are unsigned 32-bit offsets from where they are stored. */

enum { MODEL_VERSION = 0, MODEL_OPERATOR_CODES = 1 };
enum { CODE_DEPRECATED_BUILTIN = 0, CODE_CUSTOM = 1, CODE_BUILTIN = 3 };

static int readable(size_t size, size_t at, size_t length) { return at <= size && length <= size - at; }

static uint32_t u32(const uint8_t *p) { return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint16_t u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

/* Position of field `field` of the table at `table`, 0 if absent, -1 if malformed. */
static long field_at(const uint8_t *buf, size_t size, size_t table, unsigned field)
{
    if (!readable(size, table, 4)) {
        return -1;
    }
    long vtable = (long)table - (int32_t)u32(buf + table);
    if (vtable < 0 || !readable(size, (size_t)vtable, 4)) {
        return -1;
    }
    uint16_t vtable_size = u16(buf + vtable), table_size = u16(buf + vtable + 2);
    if (vtable_size < 4 || !readable(size, (size_t)vtable, vtable_size) || !readable(size, table, table_size)) {
        return -1;
    }
    size_t slot = 4 + 2 * (size_t)field;
    if (slot + 2 > vtable_size) {
        return 0;
    }
    uint16_t offset = u16(buf + vtable + slot);
    if (offset == 0) {
        return 0;
    }
    return offset < table_size ? (long)(table + offset) : -1;
}

/* Follow the reference stored at `at`; -1 if it leaves the buffer. */
static long follow(const uint8_t *buf, size_t size, size_t at)
{
    if (!readable(size, at, 4)) {
        return -1;
    }
    size_t target = at + u32(buf + at);
    return target < at || !readable(size, target, 4) ? -1 : (long)target;
}

static long root(const uint8_t *buf, size_t size) { return follow(buf, size, 0); }

/* The operator_codes vector: its position and length, or -1. */
static long op_codes(const uint8_t *buf, size_t size, uint32_t *count)
{
    long model = root(buf, size);
    long field = model < 0 ? -1 : field_at(buf, size, (size_t)model, MODEL_OPERATOR_CODES);
    if (field <= 0) {
        *count = 0;
        return field;
    }
    long vector = follow(buf, size, (size_t)field);
    if (vector < 0) {
        return -1;
    }
    *count = u32(buf + vector);
    return readable(size, (size_t)vector + 4, (size_t)*count * 4) ? vector : -1;
}

int espml_tflite_summary(const uint8_t *model, size_t size, espml_tflite_summary_t *summary)
{
    long table = root(model, size);
    if (table < 0) {
        return -1;
    }
    long version = field_at(model, size, (size_t)table, MODEL_VERSION);
    if (version < 0 || (version > 0 && !readable(size, (size_t)version, 4))) {
        return -1;
    }
    summary->version = version ? u32(model + version) : 0;
    if (op_codes(model, size, &summary->op_code_count) < 0) {
        return -1;
    }
    for (uint32_t i = 0; i < summary->op_code_count; i++) {
        if (espml_tflite_op_code(model, size, i) < 0) {
            return -1;
        }
    }
    return 0;
}

/* The OperatorCode table of operator code `index`, or -1. */
static long op_code_table(const uint8_t *model, size_t size, uint32_t index)
{
    uint32_t count;
    long vector = op_codes(model, size, &count);
    if (vector <= 0 || index >= count) {
        return -1;
    }
    return follow(model, size, (size_t)vector + 4 + 4 * (size_t)index);
}

int espml_tflite_custom_code(const uint8_t *model, size_t size, uint32_t index, const uint8_t **name,
                             size_t *length)
{
    *name = NULL;
    *length = 0;
    long table = op_code_table(model, size, index);
    long field = table < 0 ? -1 : field_at(model, size, (size_t)table, CODE_CUSTOM);
    if (field <= 0) {
        return (int)field;
    }
    long string = follow(model, size, (size_t)field);
    if (string < 0 || !readable(size, (size_t)string + 4, u32(model + string))) {
        return -1;
    }
    *name = model + string + 4;
    *length = u32(model + string);
    return 0;
}

int32_t espml_tflite_op_code(const uint8_t *model, size_t size, uint32_t index)
{
    long table = op_code_table(model, size, index);
    if (table < 0) {
        return -1;
    }
    long deprecated = field_at(model, size, (size_t)table, CODE_DEPRECATED_BUILTIN);
    long builtin = field_at(model, size, (size_t)table, CODE_BUILTIN);
    if (deprecated < 0 || builtin < 0 || (builtin > 0 && !readable(size, (size_t)builtin, 4))) {
        return -1;
    }
    int32_t old_code = deprecated ? (int8_t)model[deprecated] : 0;
    int32_t new_code = builtin ? (int32_t)u32(model + builtin) : 0;
    return old_code > new_code ? old_code : new_code;
}
