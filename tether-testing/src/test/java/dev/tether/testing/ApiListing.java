package dev.tether.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.reflect.Constructor;
import java.lang.reflect.Executable;
import java.lang.reflect.Field;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.net.JarURLConnection;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.stream.Stream;

/**
 * The public signatures of one package, as text, read by reflection from the compiled classes (whichever jars or
 * folders of the class path hold the package): every public type, and each one's public and protected fields,
 * constructors and methods with their modifiers, full generic signatures and checked exceptions. Pure; any thread.
 *
 * <p>Deterministic: types are sorted by name; within a type, enum constants come first in declaration order (their
 * order is API: {@code ordinal()}, {@code compareTo}), then fields, constructors and methods, each group sorted by
 * name, overloads by their whole line.
 * Synthetic and bridge members, non-public types (anonymous classes, package-private helpers) and subpackages are
 * left out. Names are canonical ({@code java.util.Map.Entry}), so the listing reads the same on every JDK.
 */
final class ApiListing {
  /** The modifiers a listing shows; {@code synchronized}, {@code native}, {@code volatile} and the like are not API. */
  private static final int SHOWN = Modifier.PUBLIC | Modifier.PROTECTED | Modifier.STATIC | Modifier.FINAL | Modifier.ABSTRACT;

  private final Set<String> referenced = new TreeSet<>();

  /** The listing of {@code packageName}. */
  static String of(String packageName) {
    return new ApiListing().list(packageName);
  }

  /** Every type named by a public signature of {@code packageName} (supertypes, fields, parameters, results, throws). */
  static Set<String> referencedTypes(String packageName) {
    ApiListing l = new ApiListing();
    l.list(packageName);
    return Collections.unmodifiableSet(l.referenced);
  }

  private String list(String packageName) {
    List<Class<?>> types = new ArrayList<>();
    for (String name : classNames(packageName)) {
      Class<?> c = load(name);
      if (isPublicApi(c)) {
        types.add(c);
      }
    }
    types.sort((a, b) -> name(a).compareTo(name(b)));
    StringBuilder out = new StringBuilder();
    for (Class<?> c : types) {
      out.append(declaration(c)).append(" {\n");
      for (String member : members(c)) {
        out.append("  ").append(member).append('\n');
      }
      out.append("}\n\n");
    }
    return out.toString();
  }

  /** A public top-level type, or a public or protected member type of one. */
  private static boolean isPublicApi(Class<?> c) {
    if (c.isAnonymousClass() || c.isLocalClass() || c.isSynthetic()) {
      return false;
    }
    Class<?> outer = c.getDeclaringClass();
    if (outer == null) {
      return Modifier.isPublic(c.getModifiers());
    }
    return (Modifier.isPublic(c.getModifiers()) || Modifier.isProtected(c.getModifiers())) && isPublicApi(outer);
  }

  private String declaration(Class<?> c) {
    StringBuilder s = new StringBuilder();
    deprecated(s, c.isAnnotationPresent(Deprecated.class));
    int mods = c.getModifiers() & SHOWN;
    String kind;
    if (c.isAnnotation()) {
      kind = "@interface";
      mods &= ~(Modifier.ABSTRACT | Modifier.STATIC);
    } else if (c.isInterface()) {
      kind = "interface";
      mods &= ~(Modifier.ABSTRACT | Modifier.STATIC);
    } else if (c.isEnum()) {
      kind = "enum";
      mods &= ~(Modifier.FINAL | Modifier.STATIC | Modifier.ABSTRACT);
    } else if (c.isRecord()) {
      kind = "record";
      mods &= ~(Modifier.FINAL | Modifier.STATIC);
    } else {
      kind = "class";
    }
    s.append(modifiers(mods));
    if (c.isSealed()) {
      s.append("sealed ");
    }
    s.append(kind).append(' ').append(name(c)).append(typeParameters(c.getTypeParameters()));
    if (c.isRecord()) {
      List<String> components = new ArrayList<>();
      for (java.lang.reflect.RecordComponent rc : c.getRecordComponents()) {
        components.add(type(rc.getGenericType()) + " " + rc.getName());
      }
      s.append('(').append(String.join(", ", components)).append(')');
    }
    Type sup = c.getGenericSuperclass();
    if (sup != null && sup != Object.class && !c.isEnum() && !c.isRecord()) {
      s.append(" extends ").append(type(sup));
    }
    List<String> interfaces = new ArrayList<>();
    for (Type t : c.getGenericInterfaces()) {
      if (!(c.isAnnotation() && t == java.lang.annotation.Annotation.class)) {
        interfaces.add(type(t));
      }
    }
    if (!interfaces.isEmpty()) {
      s.append(c.isInterface() ? " extends " : " implements ").append(String.join(", ", interfaces));
    }
    if (c.isSealed()) {
      List<String> permitted = new ArrayList<>();
      for (Class<?> p : c.getPermittedSubclasses()) {
        permitted.add(type((Type) p));
      }
      Collections.sort(permitted);
      s.append(" permits ").append(String.join(", ", permitted));
    }
    return s.toString();
  }

  private List<String> members(Class<?> c) {
    List<String> constants = new ArrayList<>();
    if (c.isEnum()) {
      for (Object e : c.getEnumConstants()) {
        constants.add("enum " + ((Enum<?>) e).name());
      }
    }
    // each group sorted by member name, then by the whole line (overloads)
    Map<String, String> fields = new TreeMap<>();
    for (Field f : c.getDeclaredFields()) {
      if (f.isSynthetic() || f.isEnumConstant() || !visible(f.getModifiers())) {
        continue;
      }
      StringBuilder s = new StringBuilder();
      deprecated(s, f.isAnnotationPresent(Deprecated.class));
      s.append(modifiers(f.getModifiers() & SHOWN)).append(type(f.getGenericType())).append(' ').append(f.getName());
      fields.put(f.getName() + " " + s, s.toString());
    }
    Map<String, String> constructors = new TreeMap<>();
    for (Constructor<?> k : c.getDeclaredConstructors()) {
      if (!k.isSynthetic() && visible(k.getModifiers())) {
        String line = executable(k, name(c), null, c.isInterface());
        constructors.put(line, line);
      }
    }
    Map<String, String> methods = new TreeMap<>();
    for (Method m : c.getDeclaredMethods()) {
      if (!m.isSynthetic() && !m.isBridge() && visible(m.getModifiers())) {
        String line = executable(m, m.getName(), m.getGenericReturnType(), c.isInterface());
        methods.put(m.getName() + " " + line, line);
      }
    }
    List<String> all = new ArrayList<>(constants);
    all.addAll(fields.values());
    all.addAll(constructors.values());
    all.addAll(methods.values());
    return all;
  }

  private String executable(Executable e, String name, Type result, boolean inInterface) {
    StringBuilder s = new StringBuilder();
    deprecated(s, e.isAnnotationPresent(Deprecated.class));
    int mods = e.getModifiers() & SHOWN;
    if (inInterface) {
      mods &= ~Modifier.ABSTRACT;
    }
    s.append(modifiers(mods));
    if (e instanceof Method m && m.isDefault()) {
      s.append("default ");
    }
    String typeParameters = typeParameters(e.getTypeParameters());
    if (!typeParameters.isEmpty()) {
      s.append(typeParameters).append(' ');
    }
    if (result != null) {
      s.append(type(result)).append(' ');
    }
    s.append(name).append('(');
    Type[] params = e.getGenericParameterTypes();
    if (params.length != e.getParameterCount()) {
      params = e.getParameterTypes(); // an inner class's or enum's constructor: the generic view omits hidden ones
    }
    for (int i = 0; i < params.length; i++) {
      if (i > 0) {
        s.append(", ");
      }
      String p = type(params[i]);
      if (e.isVarArgs() && i == params.length - 1 && p.endsWith("[]")) {
        p = p.substring(0, p.length() - 2) + "...";
      }
      s.append(p);
    }
    s.append(')');
    Type[] thrown = e.getGenericExceptionTypes();
    if (thrown.length > 0) {
      List<String> names = new ArrayList<>();
      for (Type t : thrown) {
        names.add(type(t));
      }
      s.append(" throws ").append(String.join(", ", names));
    }
    return s.toString();
  }

  private static boolean visible(int modifiers) {
    return Modifier.isPublic(modifiers) || Modifier.isProtected(modifiers);
  }

  private static void deprecated(StringBuilder s, boolean deprecated) {
    if (deprecated) {
      s.append("@java.lang.Deprecated ");
    }
  }

  private static String modifiers(int mods) {
    String m = Modifier.toString(mods);
    return m.isEmpty() ? "" : m + " ";
  }

  private String typeParameters(TypeVariable<?>[] vars) {
    if (vars.length == 0) {
      return "";
    }
    List<String> out = new ArrayList<>();
    for (TypeVariable<?> v : vars) {
      List<String> bounds = new ArrayList<>();
      for (Type b : v.getBounds()) {
        if (b != Object.class) {
          bounds.add(type(b));
        }
      }
      out.add(bounds.isEmpty() ? v.getName() : v.getName() + " extends " + String.join(" & ", bounds));
    }
    return "<" + String.join(", ", out) + ">";
  }

  /** A type as source would write it, fully qualified; records each class it names in {@link #referenced}. */
  private String type(Type t) {
    if (t instanceof Class<?> c) {
      if (c.isArray()) {
        return type((Type) c.getComponentType()) + "[]";
      }
      if (!c.isPrimitive()) {
        referenced.add(c.getName());
      }
      return name(c);
    }
    if (t instanceof ParameterizedType p) {
      Class<?> raw = (Class<?>) p.getRawType();
      String base;
      if (p.getOwnerType() instanceof ParameterizedType owner) {
        base = type(owner) + "." + raw.getSimpleName();
        referenced.add(raw.getName());
      } else {
        base = type((Type) raw);
      }
      List<String> args = new ArrayList<>();
      for (Type a : p.getActualTypeArguments()) {
        args.add(type(a));
      }
      return base + "<" + String.join(", ", args) + ">";
    }
    if (t instanceof WildcardType w) {
      if (w.getLowerBounds().length > 0) {
        return "? super " + type(w.getLowerBounds()[0]);
      }
      Type[] upper = w.getUpperBounds();
      return upper.length == 0 || upper[0] == Object.class ? "?" : "? extends " + type(upper[0]);
    }
    if (t instanceof GenericArrayType g) {
      return type(g.getGenericComponentType()) + "[]";
    }
    if (t instanceof TypeVariable<?> v) {
      return v.getName();
    }
    throw new IllegalArgumentException("unknown kind of type: " + t);
  }

  private static String name(Class<?> c) {
    String canonical = c.getCanonicalName();
    return canonical != null ? canonical : c.getName();
  }

  private static Class<?> load(String name) {
    try {
      return Class.forName(name, false, ApiListing.class.getClassLoader());
    } catch (ClassNotFoundException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The binary names of the classes directly in {@code packageName}, from every class path entry that holds it. */
  private static Set<String> classNames(String packageName) {
    String folder = packageName.replace('.', '/');
    Set<String> names = new TreeSet<>();
    try {
      // this class's own root holds the tests of dev.tether.testing, which are not API
      Path tests = Path.of(ApiListing.class.getProtectionDomain().getCodeSource().getLocation().toURI());
      for (URL url : Collections.list(ApiListing.class.getClassLoader().getResources(folder))) {
        if ("file".equals(url.getProtocol()) && Path.of(url.toURI()).startsWith(tests)) {
          continue;
        }
        if ("file".equals(url.getProtocol())) {
          try (Stream<Path> files = Files.list(Path.of(url.toURI()))) {
            files.map(f -> f.getFileName().toString()).filter(f -> f.endsWith(".class") && !f.equals("module-info.class"))
                .forEach(f -> names.add(packageName + "." + f.substring(0, f.length() - ".class".length())));
          }
        } else if ("jar".equals(url.getProtocol())) {
          JarURLConnection connection = (JarURLConnection) url.openConnection();
          connection.setUseCaches(false);
          try (JarFile jar = connection.getJarFile()) {
            for (JarEntry entry : Collections.list(jar.entries())) {
              String n = entry.getName();
              if (n.startsWith(folder + "/") && n.endsWith(".class") && n.indexOf('/', folder.length() + 1) < 0) {
                names.add(n.substring(0, n.length() - ".class".length()).replace('/', '.'));
              }
            }
          }
        } else {
          throw new IllegalStateException("cannot list classes at " + url);
        }
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (URISyntaxException e) {
      throw new IllegalStateException(e);
    }
    if (names.isEmpty()) {
      throw new IllegalStateException("no classes of " + packageName + " on the class path " + Arrays.toString(
          System.getProperty("java.class.path").split(java.io.File.pathSeparator)));
    }
    return names;
  }
}
