/* A classifier's class names: checked, copied in one allocation, owned by
 * the model, carried by its checkpoints. */
#include <stdlib.h>
#include <string.h>

#include "dataset_internal.h"
#include "error.h"
#include "model_internal.h"

ht_status ht_class_names_check(const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const size_t len = names[i] ? strlen(names[i]) : 0;
        if (len == 0 || len > 255)
            return ht_error(HT_ERR_ARG, "class %zu: a name of %zu bytes (1 to "
                            "255)", i, len);
        if (strpbrk(names[i], ",\n\r"))
            return ht_error(HT_ERR_ARG, "class %zu: the name '%s' holds a "
                            "comma or a line break", i, names[i]);
    }
    size_t dup;
    ht_name_ix *v = ht_names_sorted(names, n, &dup);
    if (v == NULL)
        return ht_error(HT_ERR_NOMEM, "out of memory checking %zu class "
                        "names", n);
    ht_status s = HT_OK;
    if (dup < n)
        s = ht_error(HT_ERR_ARG, "classes %zu and %zu are both named '%s'",
                     v[dup - 1].i, v[dup].i, v[dup].s);
    free(v);
    return s;
}

ht_status ht_model_set_class_names(ht_model *m, const char *const *names,
                                   size_t n)
{
    if (m == NULL)
        return ht_error(HT_ERR_ARG, "ht_model_set_class_names: NULL model");
    if (names == NULL) {
        free(m->class_names);
        m->class_names = NULL;
        return HT_OK;
    }
    const size_t outs = m->cfg.sizes[m->cfg.n_layers];
    if (n != outs)
        return ht_error(HT_ERR_SHAPE, "%zu class names for a model of %zu "
                        "outputs", n, outs);
    ht_status s = ht_class_names_check(names, n);
    if (s != HT_OK)
        return s;
    char **copy = ht_names_dup(names, n);
    if (copy == NULL)
        return ht_error(HT_ERR_NOMEM, "out of memory for %zu class names", n);
    free(m->class_names);
    m->class_names = copy;
    return HT_OK;
}

const char *const *ht_model_class_names(const ht_model *m)
{
    return (const char *const *)m->class_names;
}
