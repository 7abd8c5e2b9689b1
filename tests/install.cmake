# Installed lnet: each test installs this build tree into a fresh prefix
# (cmake --install --prefix), then uses only that prefix. The prefix is also
# moved before use, so nothing can work through a path compiled into lnet:
# `lnet build` must find the trainer's libraries from its own executable
# (PREFIX/bin/lnet -> PREFIX/lib/lnet), and lnet.pc must be relocatable.
# The Debian package itself is checked by tools/package.sh, not here.
if(NOT LNET_HAVE_CODEGEN)
  return()
endif()
set(LNET_INSTALL_INTO "d=$(realpath $(mktemp -d)); trap 'rm -rf $d' EXIT; cmake --install ${CMAKE_BINARY_DIR} --prefix $d/staged > /dev/null && mv $d/staged $d/p && P=$d/p")

# the installed lnet checks, builds a trainer from its own libraries, and the
# trainer trains
lnet_cli_test(install_lnet_builds_trainer 0
  "(?s)libraries: /[^\\n]*/p/lib/lnet\\n.*fmnist_mlp: 3 steps"
  "${LNET_INSTALL_INTO} && $P/bin/lnet --version && $P/bin/lnet check $P/share/lnet/examples/fmnist_mlp.lnet && $P/bin/lnet build $P/share/lnet/examples/fmnist_mlp.lnet -o $d/T --quiet && $d/T --max-steps 3 --train-limit 256 --test-limit 64")

# without its libraries, lnet build says so (and does not fall back to a
# path of the build tree)
lnet_cli_test(install_missing_libraries_is_user_error 1
  "lnet: error: cannot link a trainer: lnet's libraries are missing: no liblnet_trainer.a in"
  "${LNET_INSTALL_INTO} && rm -r $P/lib/lnet && $P/bin/lnet --version | grep 'libraries: none' && $P/bin/lnet build $P/share/lnet/examples/fmnist_mlp.lnet -o $d/T")

# the embedding example, compiled against the prefix with pkg-config, trains
# (its loss falls) and round-trips a checkpoint
lnet_cli_test(install_embed_pkg_config 0
  "(?s)checkpoint [^\\n]* saved and loaded at step 12\\n.*loss fell from"
  "${LNET_INSTALL_INTO} && export PKG_CONFIG_PATH=$P/lib/pkgconfig && cc -std=c11 -Wall -Werror $P/share/lnet/examples/embed/train_mlp.c $(pkg-config --cflags --libs lnet) -o $d/embed && $d/embed $P/share/lnet/examples/fmnist_mlp.lnet 12 $d/c.safetensors")

# what the install rules put in the prefix; the man page has every command
lnet_cli_test(install_files 0 "installed files ok"
  "${LNET_INSTALL_INTO} && for f in bin/lnet share/man/man1/lnet.1 include/lnet/lnet.h include/lnet/lnet_pass.h lib/liblnet.a lib/pkgconfig/lnet.pc lib/lnet/liblnet_trainer.a lib/lnet/liblnet_cli.a lib/lnet/liblnet_cgexec.a lib/lnet/liblnet_frontend.a lib/lnet/liblnet_passes.a lib/lnet/liblnet_runtime.a lib/lnet/liblnet_ir.a share/lnet/examples/fmnist_mlp.lnet share/lnet/examples/embed/train_mlp.c share/doc/lnet/README.md share/doc/lnet/cli.md; do test -f $P/$f || { echo missing $f; exit 1; }; done && for c in CHECK IR DOT TRAIN COST EVAL BUILD; do grep -q \"^.SH \\\"LNET $c\\\"\" $P/share/man/man1/lnet.1 || { echo man: no $c; exit 1; }; done && echo installed files ok")

set_tests_properties(install_lnet_builds_trainer install_missing_libraries_is_user_error
  install_embed_pkg_config install_files PROPERTIES RESOURCE_LOCK lnet_install TIMEOUT 120)

# every error of the C library, through a program built against the prefix
# (tests/install/api_errors.c): each failing call returns its message
lnet_cli_test(install_embed_api_errors 0
  "(?s)syntax: tiny-bad.lnet:2:[0-9]+: error: .*method: unknown method 'sideways'.*blocks: blocks = -1: expected 1 to 64.*file: .*/nonexistent/model.lnet.*n=0: n = 0: a batch holds 1 to 4 examples.*label: label 1 is 3, not a class in \\[0, 3\\).*step 1, loss 1\\.09.*predict count: outputs holds 11 floats; 4 examples need 12.*param name: no parameter named 'nope'.*param count: parameter 'dense_0.w' holds 32 floats, not 33.*load: /nonexistent/c.safetensors: .*save: /nonexistent/c.safetensors: .*parameters 4, dense_0.w holds 32, unknown holds -1, index 99: none\\n0 unexpected results"
  "${LNET_INSTALL_INTO} && export PKG_CONFIG_PATH=$P/lib/pkgconfig && cc -std=c11 -Wall -Werror ${CMAKE_CURRENT_SOURCE_DIR}/install/api_errors.c $(pkg-config --cflags --libs lnet) -o $d/errors && $d/errors")
set_tests_properties(install_embed_api_errors PROPERTIES RESOURCE_LOCK lnet_install TIMEOUT 120)
