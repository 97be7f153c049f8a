// Marks one symbol-version requirement of an ELF64 library (e.g. GLIBCXX_3.4.32 of libLibTorchSharp.so) as
// weak (VER_FLG_WEAK), so that the dynamic loader accepts a libstdc++ that lacks that version instead of
// refusing to load the library. Used by glibcxx-compat.sh; patchelf has no option for it.
//   usage: vernaux-weak FILE VERSION
#include <elf.h>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iterator>
#include <vector>

int main(int argc, char** argv)
{
    if (argc != 3) { std::fprintf(stderr, "usage: vernaux-weak FILE VERSION\n"); return 2; }
    std::ifstream in(argv[1], std::ios::binary);
    std::vector<char> f((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    in.close();
    auto fail = [&](const char* why) { std::fprintf(stderr, "vernaux-weak: %s: %s\n", argv[1], why); return 1; };
    auto fits = [&](size_t off, size_t len) { return off <= f.size() && len <= f.size() - off; };
    if (!fits(0, sizeof(Elf64_Ehdr)) || std::memcmp(f.data(), ELFMAG, SELFMAG) != 0 || f[EI_CLASS] != ELFCLASS64)
        return fail("not an ELF64 file");
    auto* eh = reinterpret_cast<Elf64_Ehdr*>(f.data());
    if (!fits(eh->e_shoff, size_t(eh->e_shnum) * sizeof(Elf64_Shdr))) return fail("bad section table");
    auto* sh = reinterpret_cast<Elf64_Shdr*>(f.data() + eh->e_shoff);
    int marked = 0;
    for (int i = 0; i < eh->e_shnum; i++) {
        if (sh[i].sh_type != SHT_GNU_verneed) continue;
        if (sh[i].sh_link >= eh->e_shnum) return fail("bad .gnu.version_r link");
        const Elf64_Shdr& str = sh[sh[i].sh_link];
        size_t vn = sh[i].sh_offset;
        for (Elf64_Word n = 0; n < sh[i].sh_info; n++) {
            if (!fits(vn, sizeof(Elf64_Verneed))) return fail("bad Verneed entry");
            auto* need = reinterpret_cast<Elf64_Verneed*>(f.data() + vn);
            size_t va = vn + need->vn_aux;
            for (Elf64_Half k = 0; k < need->vn_cnt; k++) {
                if (!fits(va, sizeof(Elf64_Vernaux))) return fail("bad Vernaux entry");
                auto* aux = reinterpret_cast<Elf64_Vernaux*>(f.data() + va);
                size_t name = str.sh_offset + aux->vna_name;
                if (fits(name, std::strlen(argv[2]) + 1) && std::strcmp(f.data() + name, argv[2]) == 0) {
                    aux->vna_flags |= VER_FLG_WEAK;
                    marked++;
                }
                if (aux->vna_next == 0) break;
                va += aux->vna_next;
            }
            if (need->vn_next == 0) break;
            vn += need->vn_next;
        }
    }
    if (marked == 0) return fail("no requirement of that version");
    std::ofstream out(argv[1], std::ios::binary | std::ios::trunc);
    out.write(f.data(), std::streamsize(f.size()));
    return out ? 0 : fail("cannot write");
}
