/* bad.c — broken partition plug-ins for tests/plugin.cmake, one per macro:
 *   BAD_ABI      stamped with another ABI version
 *   BAD_NO_INIT  stamped, but without lnet_pass_plugin_init
 *   BAD_BUILTIN  registers a built-in method's name
 *   BAD_DUP      registers "stages" (taken when the example is loaded too)
 *   BAD_BLOCKS   registers "bad", which sets blocks that do not cover the model
 */
#include "lnet_pass.h"

#ifdef BAD_ABI
const int lnet_pass_plugin_abi = 99;
#else
LNET_PASS_PLUGIN;
#endif

__attribute__((unused)) static int bad_blocks(LnetPartition *p, void *user)
{
    const LnetPassApi *api = user;
    int last[1] = {0};      /* one block of layer 0 only */
    return api->set_blocks(p, 1, last) == 0 && api->n_layers(p) > 1 ? 0 : 1;
}

#ifndef BAD_NO_INIT
int lnet_pass_plugin_init(const LnetPassApi *api, LnetPassRegistry *reg)
{
#if defined BAD_BUILTIN
    return api->register_method(reg, "greedy", NULL, bad_blocks, (void *)api);
#elif defined BAD_DUP
    return api->register_method(reg, "stages", NULL, bad_blocks, (void *)api);
#else
    return api->register_method(reg, "bad", NULL, bad_blocks, (void *)api);
#endif
}
#endif
